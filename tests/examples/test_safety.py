"""Examples never touch a real server by accident, ask before destroying, and clean up."""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ica_tapis_async.simulator import Simulator

from ..cli.shell import environment, run_in_terminal
from .test_examples import EXAMPLES, example_main

PROJECT = "5a1e0000-0000-4000-8000-0000000000d4"
SMALL = {
    "link_folder_listing": ["--files", "50"],
    "bulk_tag": ["--count", "50", "--batch-size", "25"],
    "analyses_from_sample_sheet": ["--samples", "120"],
    "watch_and_abort_transfers": ["--watch-s", "0.2", "--abort-all"],
    "tapis_bulk_transfer": ["--tasks", "3", "--cancel-after", "0.05", "--sim-step-s", "5"],
    "aiohttp_service": ["--self-test", "--ids", "50"],
}


@pytest.fixture
def real() -> Iterator[Simulator]:
    """A server standing in for a real one (threaded), with long-running transfers to abort."""
    with Simulator(transfer_duration_s=600.0, step_s=0.05) as server:
        yield server


@pytest.fixture
def real_env(real: Simulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The variables a CLI user is told to set, all pointing at the "real" server."""
    variables = {
        "ICA_BASE_URL": real.ica_url,
        "ICA_API_KEY": "sk-live-real",
        "ICA_PROJECT_ID": PROJECT,
        "TAPIS_BASE_URL": real.base_url,
        "TAPIS_TOKEN": "real-token",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


@pytest.mark.parametrize("name", sorted(SMALL))
def test_environment_alone_never_reaches_a_server(
    name: str,
    real: Simulator,
    real_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With every ICA/Tapis variable set, an example without --base-url uses its own simulator,
    says so on its first line, and leaves no temporary files behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert example_main(name)(SMALL[name]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("server: in-process simulator at http://127.0.0.1:"), first
    assert first.endswith("(no real data is touched)")
    assert real.base_url not in first
    assert real.stats.requests == 0
    assert list(tmp_path.iterdir()) == []


def _watch_argv(real: Simulator) -> list[str]:
    return [
        str(EXAMPLES / "watch_and_abort_transfers.py"),
        "--base-url",
        real.ica_url,
        "--watch-s",
        "0.1",
        "--abort-all",
    ]


def test_abort_on_a_real_server_needs_yes_without_a_terminal(
    real: Simulator, real_env: dict[str, str]
) -> None:
    """Piped (no terminal), without --yes: nothing is aborted, exit 2, the reason on stderr."""
    done = subprocess.run(
        [sys.executable, *_watch_argv(real)],
        capture_output=True,
        text=True,
        env=environment(real_env),
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[0] == f"server: {real.ica_url} (a real server)"
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("not confirmed: abort ")
    assert lines[0].endswith(
        f" transfers of project {PROJECT} on {real.ica_url}? (add --yes to confirm)"
    )
    assert real.stats.transfers_aborted == 0


@pytest.mark.parametrize(("answer", "code", "aborted"), [("n\n", 2, False), ("y\n", 0, True)])
def test_abort_on_a_real_server_asks_the_person(
    real: Simulator, real_env: dict[str, str], answer: str, code: int, aborted: bool
) -> None:
    """At a terminal the example asks; only 'y' aborts."""
    screen = run_in_terminal(
        *_watch_argv(real), env=real_env, answer=answer, program=sys.executable
    )
    assert screen.code == code, screen.out
    assert "transfers of project" in screen.out
    assert "? [y/N]" in screen.out
    assert (real.stats.transfers_aborted > 0) is aborted


def test_yes_aborts_on_a_real_server(real: Simulator, real_env: dict[str, str]) -> None:
    """--yes is the explicit confirmation for scripts."""
    main = example_main("watch_and_abort_transfers")
    assert main([*_watch_argv(real)[1:], "--yes"]) == 0
    assert real.stats.transfers_aborted > 0


def test_cancel_on_a_real_tenant_needs_yes(
    real: Simulator, real_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tapis_bulk_transfer --cancel-after`` against a real tenant asks first (here: refused)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # piped, not a terminal
    main = example_main("tapis_bulk_transfer")
    argv = ["--base-url", real.base_url, "--tasks", "2", "--cancel-after", "0.1"]
    assert main(argv) == 2
    assert real.stats.tapis_tasks == 0
