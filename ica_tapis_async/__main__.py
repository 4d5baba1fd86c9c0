"""``python -m ica_tapis_async``: the ``ica-tapis-async`` command line.

It runs the installed script's entry point (``_ica_tapis_async_cli``), whose signal handlers the
package put in place before its own imports (see ``_module_run``): a Ctrl-C or SIGTERM from the
first instant stops it as it stops the script, 130 or 143 without a traceback.
"""

import signal
import sys
from collections.abc import Callable
from types import FrameType

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopped(BaseException):
    """A signal arrived before the command's own guard took over."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _handle(signum: int, frame: FrameType | None) -> None:
    guard = sys.modules.get("ica_tapis_async.cli._interrupt")
    if guard is not None and guard.entered():
        return  # the command has had its clean stop, or has ended: its status stands
    raise _Stopped(signum)


def _run() -> int:
    for signum in _SIGNALS:
        signal.signal(signum, _handle)
    try:
        from .cli import main

        return main()
    except _Stopped as stop:
        name = signal.Signals(stop.signum).name
        sys.stderr.write(f"Interrupted ({name}) before the command started: nothing was done.\n")
        return 128 + stop.signum
    finally:
        # Ignored at the C level: Python puts its default handlers back while shutting down.
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def _entry() -> Callable[[], int]:
    """The installed script's entry point (its handlers are in place), else this module's."""
    try:
        from _ica_tapis_async_cli import main as entry
    except ImportError:  # a copy of the package without its entry point module
        return _run
    return entry


if __name__ == "__main__":
    sys.exit(_entry()())
