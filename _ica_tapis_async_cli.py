"""The ``ica-tapis-async`` console script: a clean stop from its very first instant.

Importing the package (aiohttp, attrs, cattrs...) takes a good part of a second. A Ctrl-C in
that time would meet Python's default handler, a ``KeyboardInterrupt`` traceback, and a
SIGTERM would kill the process unannounced. This module is outside the package so that its
handlers are in place before any of it is imported; once the command's own clean-stop guard
has run, or the command has ended, further signals are ignored: the process is already
stopping, and its exit status is the one the command chose.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

__all__ = ("install", "main")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_GUARD_MODULE = "ica_tapis_async.cli._interrupt"
#: Whether main() runs (its try turns a signal into an exit status); before it, with
#: ``python -m``, the package's own imports are under way.
_in_main = False


class _Stopped(BaseException):
    """A signal arrived before the command's own guard took over."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _guarded() -> bool:
    guard = sys.modules.get(_GUARD_MODULE)
    return bool(guard is not None and guard.entered())


def _ignore_signals() -> None:
    # Ignored at the C level: a signal storm (a scheduler's repeated SIGTERM, Ctrl-C held down)
    # must not raise again while the stop is under way, nor kill the process during shutdown.
    for signum in _SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _early_stop_line(signum: int) -> str:
    name = signal.Signals(signum).name
    return f"Interrupted ({name}) before the command started: nothing was done.\n"


def _handle(signum: int, frame: FrameType | None) -> None:
    if _guarded():
        return
    # The first signal stops the command; the ones after it must not interrupt that stop (an
    # exception raised while it is reported would escape main() with another exit status).
    _ignore_signals()
    if not _in_main:
        # `python -m ica_tapis_async`: the package is still being imported, outside main()'s
        # try; an exception would be a traceback. Nothing was started: end here.
        sys.stderr.write(_early_stop_line(signum))
        sys.stderr.flush()
        os._exit(128 + signum)
    raise _Stopped(signum)


def install() -> None:
    """Handle SIGINT and SIGTERM from now on (``python -m ica_tapis_async`` calls this before
    the package's imports: a signal during them ends the process quietly, 128 + its number)."""
    for signum in _SIGNALS:
        signal.signal(signum, _handle)


def main() -> int:
    """Run the command line with the signals handled from the start; returns the exit code."""
    global _in_main
    _in_main = True
    install()
    try:
        from ica_tapis_async.cli import main as run

        code = run()
    except _Stopped as stop:
        # Nothing was sent yet: the command had not started.
        sys.stderr.write(_early_stop_line(stop.signum))
        code = 128 + stop.signum
    finally:
        # The command has ended: a late signal must not change its exit status. Ignored at
        # the C level, since Python puts the default handlers back while shutting down.
        _ignore_signals()
    return code


if __name__ == "__main__":
    sys.exit(main())
