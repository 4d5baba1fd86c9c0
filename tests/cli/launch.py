"""Running the console script through its entry point module, as the installed script does.

The console script of an installation made before the entry point moved still names the old
one, so these tests run ``_ica_tapis_async_cli.main`` exactly as a fresh install's script does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from .shell import environment

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = (
    "import sys; from _ica_tapis_async_cli import main; "
    "sys.argv[0] = 'ica-tapis-async'; sys.exit(main())"
)


def launch(*argv: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the command line through its entry point module (stdin empty, output piped)."""
    variables = environment(env)
    # The entry point module lives at the checkout's root, beside the package.
    variables["PYTHONPATH"] = str(ROOT) + ":" + variables.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=variables,
    )


def handles(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``signum`` (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def wait_for_handler(process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    """Wait until the entry point has put its SIGTERM handler in place (before any import)."""
    deadline = time.monotonic() + timeout
    while not handles(process.pid, signal.SIGTERM):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the entry point never installed its handlers")
        time.sleep(0.001)
