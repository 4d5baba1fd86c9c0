"""A command started with its stdout closed (``cmd >&-``, a daemon that closed its fds): the
report is not lost and there is no traceback, as for a full disk."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .shell import SCRIPT, environment


def _close_stdout() -> None:
    os.close(1)


@pytest.mark.parametrize("extra", [["--json"], ["-q"]])
def test_a_closed_stdout_is_one_line_and_the_report_on_stderr(
    tmp_path: Path, extra: list[str]
) -> None:
    """It used to end in a traceback ('NoneType' object has no attribute 'write')."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"fil.{i:032x}\n" for i in range(20)), encoding="utf-8")
    done = subprocess.run(
        [SCRIPT, "link", str(ids), "--simulator", *extra],
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
        preexec_fn=_close_stdout,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    first, *rest = done.stderr.splitlines()
    assert first.startswith("error: could not write the report to stdout"), first
    assert first.endswith("; here it is instead:"), first
    if extra == ["--json"]:
        assert json.loads("\n".join(rest))["counts"] == {"LINKED": 20}
    else:
        assert any("LINKED" in line and "20" in line for line in rest)
