"""Bounded fan-out: run an async function over an iterable, at most ``limit`` at a time."""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from contextlib import aclosing
from types import TracebackType
from typing import Final, Generic, TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._groups import single_failure

__all__ = ("fan_out", "gather_bounded")

T = TypeVar("T")
R = TypeVar("R")


class _Done:
    """Marks an exhausted input."""


_DONE: Final = _Done()


class _FanOut(Generic[T, R]):
    """What ``fan_out`` returns: a class, so that no generator straddles the task group."""

    def __init__(
        self,
        func: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        limit: int,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, not {limit!r}")
        self._func = func
        self._items = items
        self._limit = limit
        self._tg: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[R] | None = None

    async def __aenter__(self) -> AsyncIterator[R]:
        if self._tg is not None:
            raise RuntimeError("a fan_out() context can be entered only once")
        # Unbuffered: a finished worker keeps its slot until the caller takes its result, so
        # no more than `limit` items are ever pulled ahead of the caller.
        send, self._receive = anyio.create_memory_object_stream[R](0)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._feed, self._tg, send)
        return self._receive

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None and self._receive is not None
        # Leaving early (break, an exception, an outer cancel) abandons the remaining work;
        # after a full drain nothing is left to cancel.
        self._tg.cancel_scope.cancel()
        try:
            return await self._tg.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            found = single_failure(group)
            if found is None:
                raise
            single = found
        finally:
            # Only once every worker is gone: closing earlier could wake a worker blocked in
            # send() with BrokenResourceError instead of its cancellation.
            self._receive.close()
        # Raise the one failure as itself (callers write `except ValueError`, not
        # `except* ValueError`), outside the except block so the group is not its context,
        # and put its own __context__ back. Its __cause__ and traceback are untouched.
        context = single.__context__
        try:
            raise single
        finally:
            single.__context__ = context
            del single, context

    async def _feed(self, tg: TaskGroup, send: MemoryObjectSendStream[R]) -> None:
        slots = anyio.Semaphore(self._limit)
        pull = _puller(self._items)
        async with send:
            while True:
                # Take a slot before pulling, so the input is consumed no faster than it is run.
                await slots.acquire()
                # acquire() may return after the group was cancelled (its last step is
                # shielded); pulling then would consume an item nobody will run.
                await anyio.lowlevel.checkpoint_if_cancelled()
                item = await pull()
                if isinstance(item, _Done):
                    return
                tg.start_soon(self._work, item, send.clone(), slots)

    async def _work(self, item: T, send: MemoryObjectSendStream[R], slots: anyio.Semaphore) -> None:
        async with send:
            await send.send(await self._func(item))
        # Released only on success: a failure or cancellation ends the whole fan-out, and
        # freeing the slot then would only let the feeder pull an item nobody will run.
        slots.release()


def _puller(items: Iterable[T] | AsyncIterable[T]) -> Callable[[], Awaitable[T | _Done]]:
    """Return a coroutine function giving the next item, or ``_DONE``; sync or async input."""
    if isinstance(items, AsyncIterable):
        ait = aiter(items)

        async def pull_async() -> T | _Done:
            return await anext(ait, _DONE)

        return pull_async
    it = iter(items)

    async def pull_sync() -> T | _Done:
        return next(it, _DONE)

    return pull_sync


def fan_out(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
) -> _FanOut[T, R]:
    """Run ``func`` over ``items``, at most ``limit`` at a time; yield results as they finish.

    Use it as an async context manager whose value is an async iterator of results, in
    completion order (not input order). The input, sync or async, is pulled lazily: never more
    than ``limit`` items ahead of the results taken, so an endless generator is fine. All work
    runs in a task group inside the ``async with``; leaving the block (after ``break``, an
    exception or a cancellation) cancels whatever is still running, so no task outlives it.

    ``func`` should catch the failures that are outcomes (e.g. ``APIError``) and return them
    as values. An exception it lets out cancels the other calls and propagates from the
    ``async with``: as itself when it is the only one (or when every call that failed raised
    the same type), or as an ``ExceptionGroup`` when different exceptions were raised at once.

    Args:
        func: async function applied to each item.
        items: the inputs, a sync or async iterable.
        limit: most calls of ``func`` in flight at once (>= 1).

    Returns:
        An async context manager yielding an ``AsyncIterator`` of results.

    Raises:
        ValueError: if ``limit`` < 1.

    Example::

        async with fan_out(fetch_batch, batch_ids, limit=8) as results:
            async for batch in results:
                print(batch.id, batch.status)
    """
    return _FanOut(func, items, limit)


async def _indexed(items: Iterable[T] | AsyncIterable[T]) -> AsyncGenerator[tuple[int, T]]:
    """Pair each item with its position."""
    if isinstance(items, AsyncIterable):
        index = 0
        async for item in items:
            yield index, item
            index += 1
    else:
        for pair in enumerate(items):
            yield pair


async def gather_bounded(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    limit: int,
) -> list[R]:
    """Run ``func`` over ``items`` with at most ``limit`` in flight; return results in input order.

    Args:
        func: async function applied to each item.
        items: the inputs, a sync or async iterable (consumed entirely).
        limit: most calls of ``func`` in flight at once (>= 1).

    Returns:
        ``[await func(x) for x in items]``, computed concurrently.

    Raises:
        ValueError: if ``limit`` < 1.
        Exception: whatever ``func`` raised, as in :func:`fan_out`.

    Example::

        sizes = await gather_bounded(get_size, paths, limit=16)
    """

    async def call(pair: tuple[int, T]) -> tuple[int, R]:
        return pair[0], await func(pair[1])

    found: dict[int, R] = {}
    async with aclosing(_indexed(items)) as pairs, fan_out(call, pairs, limit=limit) as results:
        async for index, result in results:
            found[index] = result
    return [found[index] for index in range(len(found))]
