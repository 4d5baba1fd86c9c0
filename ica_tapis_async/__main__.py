"""``python -m ica_tapis_async``: the ``ica-tapis-async`` command line.

The installed ``ica-tapis-async`` script stops cleanly from its first instant (its entry point
module handles signals before importing the package); here the package is imported before
this module runs. From then on it stops as the script does: a Ctrl-C or SIGTERM before the
command's own guard takes over ends in 130 or 143 without a traceback, and a signal after the
command's clean stop (a second Ctrl-C, ``timeout``'s SIGTERM on top of it) never changes the
exit status the command chose.
"""

import signal
import sys
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


if __name__ == "__main__":
    sys.exit(_run())
