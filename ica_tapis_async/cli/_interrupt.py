"""Ctrl-C: the first SIGINT cancels the command; any further one waits for that clean stop."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from types import FrameType, TracebackType
from typing import Any, Self, TypeVar

__all__ = ("SigintGuard",)

T = TypeVar("T")


class SigintGuard:
    """While active, SIGINT cancels the command's task once; later SIGINTs are ignored.

    asyncio's own handler raises ``KeyboardInterrupt`` on the second SIGINT wherever the main
    thread happens to be, e.g. in the middle of closing a journal or printing the resume hint.
    A person pressing Ctrl-C twice, or ``timeout`` forwarding SIGINT while the terminal sends its
    own, would then get a traceback and a half-told story.
    """

    def __init__(self) -> None:
        self.interrupted = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous: Any = None
        self._installed = False

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` as the task that the first SIGINT cancels."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        if self.interrupted:
            # Ctrl-C came while the event loop was starting: nothing ran, nothing to undo.
            coro.close()
            raise asyncio.CancelledError
        return await coro

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted:
            return
        self.interrupted = True
        task, loop = self._task, self._loop
        if task is not None and loop is not None and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
