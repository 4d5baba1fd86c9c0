"""``python -m ica_tapis_async`` stops cleanly from its first instant too (README, "Command
line": it is the same command as ``ica-tapis-async``). Python imports the package before its
``__main__`` runs, so the package itself puts the entry point's handlers in place first, and
only when it is being run as ``python -m ica_tapis_async``: a program importing the library
keeps its own signal handling."""

from __future__ import annotations

import os
import subprocess
import sys

from .launch import ROOT

_PROBE = """
import signal, sys
sys.orig_argv[:] = {orig!r}
before = signal.getsignal(signal.SIGTERM)
import ica_tapis_async
after = signal.getsignal(signal.SIGTERM)
print(before is signal.SIG_DFL, getattr(after, "__module__", None) == "_ica_tapis_async_cli")
"""


def _probe(orig: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(orig=orig)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_run_as_a_module_the_package_handles_signals_before_its_imports() -> None:
    for orig in (
        [sys.executable, "-m", "ica_tapis_async", "link"],
        [sys.executable, "-X", "dev", "-mica_tapis_async"],
        [sys.executable, "-m", "ica_tapis_async.__main__"],
    ):
        assert _probe(orig) == "True True", orig


def test_imported_as_a_library_the_package_leaves_signals_alone() -> None:
    for orig in (
        [sys.executable, "-c", "import ica_tapis_async"],
        [sys.executable, "-m", "pytest"],
        [sys.executable, "-m", "ica_tapis_async.simulator"],
        [sys.executable, "app.py", "-m", "ica_tapis_async"],
    ):
        assert _probe(orig) == "True False", orig


def test_a_signal_while_the_package_is_imported_exits_quietly_with_its_status() -> None:
    """The handler put in place before the package's imports: a signal then (outside main()'s
    try) ends the process at once with 128 + its number and one line, never a traceback."""
    script = (
        "import os, signal, time, _ica_tapis_async_cli as entry; entry.install(); "
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(30)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 130
    assert done.stderr == "Interrupted (SIGINT) before the command started: nothing was done.\n"
