"""Stopping a command cleanly: Ctrl-C, SIGTERM (schedulers) and ``--max-runtime``.

The first SIGINT or SIGTERM, or the deadline, cancels the command; any further signal waits for
that clean stop.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any, Final, Self, TypeVar

__all__ = ("DEADLINE", "SigintGuard", "entered", "interruptible")

T = TypeVar("T")

#: The reason recorded when ``--max-runtime`` ran out (a signal is recorded as its number).
DEADLINE: Final = -1
#: The signals that stop a command cleanly: Ctrl-C, and what `timeout`, Docker, Kubernetes and
#: systemd send.
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)

_entered = False
#: Inside :func:`interruptible` (blocking code that a stop must break into), how deep.
_blocking = 0


def entered() -> bool:
    """Whether a guard has been active in this process (the launcher's own handler then
    ignores late signals: the command has had its clean stop, or has ended)."""
    return _entered


@contextmanager
def interruptible() -> Iterator[None]:
    """Blocking code (reading the input from a pipe) during which a stop raises at once.

    A stop otherwise cancels the command's task, which takes effect only when the event loop
    runs again: a read of a pipe whose writer neither writes nor ends (a hung producer) would
    hold it off past any scheduler's grace period. Nothing has been sent while the input is
    read, so breaking into it loses nothing. The stop raises :class:`KeyboardInterrupt`
    (``SigintGuard.reason`` says which signal it was).
    """
    global _blocking
    _blocking += 1
    try:
        yield
    finally:
        _blocking -= 1


class SigintGuard:
    """While active, SIGINT or SIGTERM cancels the command's task once; later ones are ignored.

    asyncio's own handler raises ``KeyboardInterrupt`` on the second SIGINT wherever the main
    thread happens to be, e.g. in the middle of closing a journal or printing the resume hint.
    A person pressing Ctrl-C twice, or ``timeout`` forwarding SIGINT while the terminal sends its
    own, would then get a traceback and a half-told story. SIGTERM, left to its default, would
    kill the process without releasing its journal leases or saying how far it got.

    Attributes:
        interrupted: the command was stopped (a signal or the deadline).
        reason: the signal number that stopped it, :data:`DEADLINE`, or ``None``.
    """

    def __init__(self, max_runtime: float | None = None) -> None:
        self.interrupted = False
        self.reason: int | None = None
        self._max_runtime = max_runtime
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous: dict[int, Any] = {}

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` as the task that the first signal (or the deadline) cancels."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        if self.interrupted:
            # A signal came while the event loop was starting: nothing ran, nothing to undo.
            coro.close()
            raise asyncio.CancelledError
        timer = None
        alarm = self._max_runtime is not None and signal.SIGALRM in self._previous
        if alarm:
            # A real-time alarm, not an event loop timer: the deadline must also break into
            # blocking code (a silent input pipe) that keeps the loop from running.
            signal.setitimer(signal.ITIMER_REAL, self._max_runtime or 0.0)
        elif self._max_runtime is not None:
            timer = self._loop.call_later(self._max_runtime, self._stop, DEADLINE)
        try:
            return await coro
        finally:
            if timer is not None:
                timer.cancel()
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)

    def _stop(self, reason: int) -> None:
        if self.interrupted:
            return
        self.interrupted = True
        self.reason = reason
        task, loop = self._task, self._loop
        if task is not None and loop is not None and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.interrupted
        self._stop(DEADLINE if signum == signal.SIGALRM else signum)
        if first and _blocking:
            raise KeyboardInterrupt

    def __enter__(self) -> Self:
        global _entered
        if threading.current_thread() is threading.main_thread():
            alarm = (signal.SIGALRM,) if self._max_runtime is not None else ()
            for signum in (*_SIGNALS, *alarm):
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
            _entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
