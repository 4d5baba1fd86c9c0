"""The report's way out: a stdout that cannot be written (a full disk) loses nothing.

A report printed to a file on a full disk used to end in a traceback, the report gone, and
Python's own failed flush at exit on top. :class:`GuardedStdout` stands in for ``sys.stdout``
while a command runs: it keeps what the command printed, and the first failed write or flush
becomes a :class:`ReportWriteError` carrying that text, which ``main`` puts on stderr.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import IO, Any, Final

__all__ = (
    "GuardedStdout",
    "ReaderGoneError",
    "ReportWriteError",
    "describe_stdout",
    "discard_stdout",
    "install",
)


class ReaderGoneError(Exception):
    """Stdout's reader went away (``| head``): the command stops quietly, as with SIGPIPE."""


class ReportWriteError(Exception):
    """Stdout could not be written; ``text`` is everything the command printed there."""

    def __init__(self, where: str, error: OSError, text: str | None) -> None:
        super().__init__(f"could not write the report to {where}: {error.strerror or error}")
        #: What the command printed, or ``None`` when it was too large to keep.
        self.text = text


def describe_stdout(stream: IO[str] | None) -> str:
    """``stdout (/path/to/file)`` where the system says where it goes, else ``stdout``."""
    if stream is None:
        return "stdout"
    try:
        target = os.readlink(f"/proc/self/fd/{stream.fileno()}")
    except (OSError, ValueError, AttributeError):
        return "stdout"
    return f"stdout ({target})" if target.startswith("/") else "stdout"


def discard_stdout(stream: IO[str] | None) -> None:
    """Point the failed stdout at /dev/null, so that Python's flush at exit does not fail on
    the text it still buffers (that failure would print another error and exit 120)."""
    if stream is None:
        return  # closed from the start: nothing is buffered, nothing flushed at exit
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return  # not a real file (a test's capture): nothing is flushed at exit
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


#: What a closed stdout answers for (not a terminal, no file descriptor).
_CLOSED: Final = io.StringIO()

#: Up to this many characters of output are kept to be shown elsewhere if stdout fails.
KEEP_LIMIT = 4 << 20


class GuardedStdout:
    """Writes through to ``target``; remembers the text; a failure raises ReportWriteError."""

    def __init__(self, target: IO[str] | None, keep: int = KEEP_LIMIT) -> None:
        #: ``None``: the process was started with its stdout closed (``cmd >&-``).
        self.target = target
        self._text: list[str] | None = []
        self._size = 0
        self._keep = keep
        self.failed = False

    def write(self, text: str) -> int:
        """Write ``text`` (kept, to be shown elsewhere if stdout fails)."""
        if self._text is not None:
            self._size += len(text)
            # An export of millions of items is not held in memory: the journal has it.
            if self._size <= self._keep:
                self._text.append(text)
            else:
                self._text = None
        if self.failed:
            return len(text)
        if self.target is None:
            raise self._failure(OSError(errno.EBADF, "it was closed when the command started"))
        try:
            return self.target.write(text)
        except OSError as exc:
            raise self._failure(exc) from None

    def flush(self) -> None:
        """Flush the target."""
        if self.failed or self.target is None:
            return
        try:
            self.target.flush()
        except OSError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: OSError) -> Exception:
        self.failed = True
        if isinstance(exc, BrokenPipeError):
            # The reader read what it wanted (``| head``): nothing to show elsewhere.
            return ReaderGoneError()
        kept = None if self._text is None else "".join(self._text)
        return ReportWriteError(describe_stdout(self.target), exc, kept)

    def __getattr__(self, name: str) -> Any:
        # isatty, fileno, encoding...: rich asks them to size and colour its output. A closed
        # stdout answers as a plain text stream would; the first write then fails.
        return getattr(self.target if self.target is not None else _CLOSED, name)


def install() -> GuardedStdout:
    """Put a :class:`GuardedStdout` in place of ``sys.stdout``; returns it."""
    guarded = GuardedStdout(sys.stdout)
    sys.stdout = guarded  # a stand-in: __getattr__ gives it every other TextIO attribute
    return guarded
