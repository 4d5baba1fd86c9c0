"""A stop signal while the input is still being read (a pipe whose writer has not finished:
``producer | ica-tapis-async link - ...``) stops the command at once, not when the pipe ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .launch import ROOT
from .shell import environment, finish, wait_until

#: The console script's entry point, and ``python -m``.
_ENTRIES = {
    "script": ["-c", "import sys; from _ica_tapis_async_cli import main; sys.exit(main())"],
    "module": ["-m", "ica_tapis_async"],
}


def _reading_stdin(pid: int) -> bool:
    """Whether ``pid`` is blocked in a read of its stdin (Linux /proc)."""
    try:
        syscall = Path(f"/proc/{pid}/syscall").read_text(encoding="ascii").split()
        wchan = Path(f"/proc/{pid}/wchan").read_text(encoding="ascii")
    except OSError:
        return False
    # read(2) is syscall 0 on x86-64 (63 on arm64); its first argument is the fd.
    reading = len(syscall) > 1 and syscall[0] in ("0", "63") and syscall[1] == "0x0"
    return reading or "pipe_read" in wchan


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("entry", sorted(_ENTRIES))
@pytest.mark.parametrize(
    ("signum", "code", "heading"),
    [
        (signal.SIGTERM, 143, "Terminated (SIGTERM): stopped cleanly."),
        (signal.SIGINT, 130, "Interrupted: stopped cleanly."),
    ],
)
def test_a_stop_while_stdin_is_read_is_at_once(
    tmp_path: Path, entry: str, signum: signal.Signals, code: int, heading: str
) -> None:
    """The pipe's writer stays open and silent: the stop used to wait for it (forever, for a
    producer that hangs), past any scheduler's grace period, before its SIGKILL."""
    server = ["--base-url", "http://127.0.0.1:9/ica/rest", "--api-key", "k", "--project", "P"]
    argv = ["link", "-", "--journal", str(tmp_path / "j.sqlite"), *server, "-q"]
    variables = environment()
    variables["PYTHONPATH"] = str(ROOT) + ":" + variables.get("PYTHONPATH", "")
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, *_ENTRIES[entry], *argv],
            stdin=read_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=variables,
        )
        os.close(read_end)
        wait_until(lambda: _reading_stdin(process.pid) or process.poll() is not None, 60)
        started = time.monotonic()
        process.send_signal(signum)
        result = finish(process, timeout=30)
        took = time.monotonic() - started
    finally:
        os.close(write_end)
    assert result.code == code, result.err
    assert heading in result.err
    assert "Traceback" not in result.err
    assert took < 10, took


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_max_runtime_while_stdin_is_read(tmp_path: Path) -> None:
    """--max-runtime is a wall-time limit: it holds while the input pipe is silent too (its
    timer ran on the event loop, which a blocked read never gives back)."""
    server = ["--base-url", "http://127.0.0.1:9/ica/rest", "--api-key", "k", "--project", "P"]
    argv = ["link", "-", "--journal", str(tmp_path / "j.sqlite"), *server, "-q"]
    variables = environment()
    variables["PYTHONPATH"] = str(ROOT) + ":" + variables.get("PYTHONPATH", "")
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, *_ENTRIES["script"], *argv, "--max-runtime", "1s"],
            stdin=read_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=variables,
        )
        os.close(read_end)
        wait_until(lambda: _reading_stdin(process.pid) or process.poll() is not None, 60)
        result = finish(process, timeout=30)
    finally:
        os.close(write_end)
    assert result.code == 124, result.err
    assert "Stopped at --max-runtime 1s: stopped cleanly." in result.err
