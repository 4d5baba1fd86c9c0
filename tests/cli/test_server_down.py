"""A server that is down stops the run early, in one line naming the URL (--unreachable-after)."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from .shell import finish, start


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_down_server_stops_the_run_in_one_message(tmp_path: Path) -> None:
    """1,000 ids against a closed port: one error naming the URL, exit 1, in seconds."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"fil.{i:032x}\n" for i in range(1000)), encoding="utf-8")
    url = f"http://127.0.0.1:{_closed_port()}/ica/rest"
    journal = tmp_path / "j.sqlite"
    flags = ["--base-url", url, "--api-key", "k", "--project", "P", "-q"]
    began = time.monotonic()
    down = start(
        "link",
        str(ids),
        "--batch-size",
        "10",
        "--unreachable-after",
        "0.5",
        "--journal",
        str(journal),
        *flags,
    )
    bad = start("link", str(ids), "--unreachable-after", "0", *flags)
    result, refused = finish(down), finish(bad)
    assert time.monotonic() - began < 60  # retrying 1,000 requests would take minutes
    assert (result.code, result.out) == (1, "")
    # The error, how to settle it, and the run's id (a failed run names itself).
    assert len(result.err_lines) == 3, result.err
    assert re.fullmatch(
        rf"error: cannot reach {re.escape(url)}: every connection attempt failed for \d+ s and "
        rf"none has ever succeeded \(last: POST {re.escape(url)}/api/projects/P/"
        r"dataLinkingBatch: .+\); is the server up and the URL right\? "
        r"\(--unreachable-after sets how long to try\)",
        result.err_lines[0],
    ), result.err_lines[0]
    assert result.err_lines[1] == (
        "Once the server is up, run the same command with the same --journal to settle what "
        "was sent."
    )
    assert re.fullmatch(r"Run id: [0-9a-f]{16}", result.err_lines[2]), result.err_lines[2]
    assert (refused.code, refused.err_lines) == (
        2,
        [
            "error: argument --unreachable-after: must be > 0 (or 'off'), got 0 "
            "(see ica-tapis-async link --help)"
        ],
    )
