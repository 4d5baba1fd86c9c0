"""fan_out and gather_bounded: bounded concurrency, lazy input, errors and cancellation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.lowlevel
import pytest

from ica_tapis_async.concurrency import fan_out, gather_bounded


async def spin(n: int) -> None:
    """Yield to the event loop ``n`` times: a deterministic stand-in for work taking time."""
    for _ in range(n):
        await anyio.lowlevel.checkpoint()


class Tracker:
    """Counts workers started, finished and currently running, and whose finally ran."""

    def __init__(self) -> None:
        self.started = 0
        self.finalized = 0
        self.running = 0
        self.peak = 0

    async def run(self, spins: int, *, forever: bool = False) -> None:
        self.started += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await spin(spins)
            if forever:
                await anyio.sleep_forever()
        finally:
            self.running -= 1
            self.finalized += 1


async def test_limit_is_respected() -> None:
    """No more than `limit` calls run at once, over many items of uneven length."""
    tracker = Tracker()

    async def work(i: int) -> int:
        await tracker.run(i % 5 + 1)
        return i

    async with fan_out(work, range(30), limit=4) as results:
        got = [r async for r in results]
    assert sorted(got) == list(range(30))
    assert 1 <= tracker.peak <= 4
    assert tracker.running == 0


async def test_limit_is_reached_but_not_passed() -> None:
    """Exactly `limit` calls can be in flight together: the 4th releases the first three."""
    running = peak = 0
    all_in = anyio.Event()

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == 4:
            all_in.set()
        await all_in.wait()
        await spin(3)
        running -= 1
        return i

    with anyio.fail_after(1):
        async with fan_out(work, range(12), limit=4) as results:
            got = [r async for r in results]
    assert sorted(got) == list(range(12))
    assert peak == 4


async def test_results_come_in_completion_order() -> None:
    """Faster calls are yielded first, whatever their input position."""

    async def work(i: int) -> int:
        await spin(i * 10)
        return i

    async with fan_out(work, [3, 0, 2, 1], limit=4) as results:
        got = [r async for r in results]
    assert got == [0, 1, 2, 3]


async def test_input_is_pulled_lazily_from_an_endless_generator() -> None:
    """With limit 3, taking 5 results from an infinite generator pulls at most 5 + 3 items."""
    pulled = 0

    def endless() -> Iterator[int]:
        nonlocal pulled
        while True:
            pulled += 1
            yield pulled

    async def work(i: int) -> int:
        await spin(1)
        return i

    got = []
    async with fan_out(work, endless(), limit=3) as results:
        async for r in results:
            got.append(r)
            if len(got) == 5:
                break
    assert len(got) == 5
    assert pulled <= 5 + 3


async def test_async_iterable_input() -> None:
    """An async generator works as input and is also consumed lazily."""
    pulled = 0

    async def endless() -> AsyncIterator[int]:
        nonlocal pulled
        while True:
            pulled += 1
            yield pulled

    async def double(i: int) -> int:
        return 2 * i

    got = []
    async with fan_out(double, endless(), limit=2) as results:
        async for r in results:
            got.append(r)
            if len(got) == 4:
                break
    assert sorted(got) == [2, 4, 6, 8]
    assert pulled <= 4 + 2


async def test_an_exception_propagates_unwrapped_and_cancels_the_rest() -> None:
    """A lone failure surfaces as itself; every other worker is cancelled and cleaned up."""
    tracker = Tracker()

    async def work(i: int) -> int:
        if i == 3:
            await spin(2)
            raise ValueError("boom")
        await tracker.run(1, forever=True)
        return i

    with pytest.raises(ValueError, match="boom"):
        async with fan_out(work, range(10), limit=5) as results:
            async for _ in results:
                pass
    assert tracker.started == 4  # items 0-2 and 4; nothing is pulled after the failure
    assert tracker.finalized == tracker.started
    assert tracker.running == 0


async def test_an_unwrapped_exception_keeps_its_cause() -> None:
    """Unwrapping keeps the exception's own __cause__."""

    async def work(i: int) -> int:
        try:
            raise KeyError(i)
        except KeyError as exc:
            raise ValueError("wrapped") from exc

    with pytest.raises(ValueError) as info:
        async with fan_out(work, [1], limit=1) as results:
            async for _ in results:
                pass
    assert isinstance(info.value.__cause__, KeyError)


async def test_the_callers_own_exception_propagates_unwrapped() -> None:
    """An exception raised in the caller's block comes out as itself and stops the workers."""
    tracker = Tracker()

    async def work(i: int) -> int:
        await tracker.run(20 if i == 0 else 0, forever=i > 0)
        return i

    with pytest.raises(KeyError):
        async with fan_out(work, range(5), limit=5) as results:
            async for _ in results:
                raise KeyError("caller")
    assert tracker.finalized == tracker.started == 5
    assert tracker.running == 0


async def test_two_failures_make_an_exception_group() -> None:
    """Two calls failing at once (neither can be cancelled first) raise an ExceptionGroup."""

    async def work(i: int) -> int:
        with anyio.CancelScope(shield=True):
            await spin(3)
        raise ValueError(i)

    with pytest.raises(ExceptionGroup) as info:
        async with fan_out(work, range(2), limit=2) as results:
            async for _ in results:
                pass
    assert sorted(e.args[0] for e in info.value.exceptions) == [0, 1]


async def test_breaking_out_cancels_remaining_work() -> None:
    """Leaving the block after a break cancels the unfinished calls; each one's finally runs."""
    tracker = Tracker()

    async def work(i: int) -> int:
        await tracker.run(20 if i == 0 else 0, forever=i > 0)
        return i

    async with fan_out(work, range(100), limit=6) as results:
        async for r in results:
            assert r == 0
            break
    assert tracker.started == 6
    assert tracker.finalized == tracker.started
    assert tracker.running == 0


async def test_cancelling_the_caller_leaves_no_task_running() -> None:
    """A move_on_after around the consumer cancels every worker and runs their finally blocks."""
    tracker = Tracker()
    got = []

    async def work(i: int) -> int:
        await tracker.run(0, forever=i >= 2)
        return i

    # Cancelled once two results are in and the five slots hold stuck workers: a real-time
    # timeout here made the test depend on how busy the machine was.
    with anyio.CancelScope() as scope:
        async with fan_out(work, range(50), limit=5) as results:
            async for r in results:
                got.append(r)
                if len(got) == 2:
                    while tracker.running < 5:
                        await anyio.lowlevel.checkpoint()
                    scope.cancel()
    assert scope.cancelled_caught
    assert sorted(got) == [0, 1]
    assert tracker.started == 7
    assert tracker.finalized == tracker.started
    assert tracker.running == 0


async def test_empty_input_yields_nothing() -> None:
    """An empty iterable ends the iteration at once."""

    async def work(i: int) -> int:
        return i

    async with fan_out(work, [], limit=3) as results:
        assert [r async for r in results] == []


async def test_limit_must_be_positive() -> None:
    """limit < 1 raises ValueError."""

    async def work(i: int) -> int:
        return i

    with pytest.raises(ValueError):
        fan_out(work, [1], limit=0)


async def test_gather_bounded_keeps_input_order() -> None:
    """gather_bounded returns results in input order though they finish in reverse."""
    tracker = Tracker()

    async def work(i: int) -> str:
        await tracker.run(20 - i)
        return f"r{i}"

    assert await gather_bounded(work, range(20), limit=4) == [f"r{i}" for i in range(20)]
    assert tracker.peak == 4


async def test_gather_bounded_accepts_async_input() -> None:
    """gather_bounded works over an async iterable and an empty one."""

    async def numbers() -> AsyncIterator[int]:
        for i in range(7):
            yield i

    async def square(i: int) -> int:
        await spin(7 - i)
        return i * i

    assert await gather_bounded(square, numbers(), limit=3) == [i * i for i in range(7)]
    assert await gather_bounded(square, [], limit=3) == []


async def test_gather_bounded_propagates_an_exception() -> None:
    """A failing call makes gather_bounded raise that exception."""

    async def work(i: int) -> int:
        if i == 2:
            raise RuntimeError("bad item")
        return i

    with pytest.raises(RuntimeError, match="bad item"):
        await gather_bounded(work, range(5), limit=2)
