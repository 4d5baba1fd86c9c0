"""The concurrency helpers run on trio too, as ``ica_tapis_async.concurrency`` promises.

The clients sit on aiohttp and therefore on asyncio; the helpers are plain anyio and are
checked here on the trio backend (the rest of the suite runs them on asyncio).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import pytest

from ica_tapis_async.concurrency import (
    AdaptiveRateLimiter,
    PollState,
    WaiterError,
    fan_out,
    gather_bounded,
    poll_until,
)

from .fakes import FakeClock

pytest.importorskip("trio")

T = TypeVar("T")


def on_trio(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` to completion on the trio backend."""
    return anyio.run(main, backend="trio")


def test_fan_out_on_trio_keeps_its_limit() -> None:
    """fan_out returns every result and never runs more than ``limit`` calls at once."""
    running = peak = 0

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(i % 3 + 1):
            await anyio.lowlevel.checkpoint()
        running -= 1
        return i

    async def main() -> list[int]:
        async with fan_out(work, range(20), limit=3) as results:
            return sorted([r async for r in results])

    assert on_trio(main) == list(range(20))
    assert 1 <= peak <= 3


def test_gather_bounded_on_trio_keeps_input_order() -> None:
    """gather_bounded returns results in input order on trio."""

    async def double(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        return 2 * i

    async def main() -> list[int]:
        return await gather_bounded(double, range(10), limit=4)

    assert on_trio(main) == [2 * i for i in range(10)]


def test_fan_out_on_trio_propagates_the_first_error() -> None:
    """A failing call stops the fan-out on trio as on asyncio."""

    async def work(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        if i == 3:
            raise KeyError(i)
        return i

    async def main() -> None:
        async with fan_out(work, range(10), limit=2) as results:
            async for _ in results:
                await anyio.lowlevel.checkpoint()

    with pytest.raises(KeyError):
        on_trio(main)


def test_poll_until_on_trio_returns_the_final_value() -> None:
    """The poller sleeps through the injected sleep and returns the success value."""
    clock = FakeClock()
    values = iter(["RUNNING", "RUNNING", "DONE"])

    async def fetch() -> str:
        return next(values)

    def classify(value: str) -> PollState:
        return PollState.SUCCESS if value == "DONE" else PollState.PENDING

    async def main() -> str:
        return await poll_until(
            fetch, classify, name="job", initial_delay=1.0, clock=clock, sleep=clock.sleep
        )

    assert on_trio(main) == "DONE"


def test_poll_until_on_trio_gives_up_after_max_attempts() -> None:
    """The waiter's give-up path raises WaiterError on trio."""
    clock = FakeClock()

    async def fetch() -> str:
        return "RUNNING"

    async def main() -> Any:
        return await poll_until(
            fetch,
            lambda _: PollState.PENDING,
            name="job",
            max_attempts=2,
            clock=clock,
            sleep=clock.sleep,
        )

    with pytest.raises(WaiterError) as info:
        on_trio(main)
    assert info.value.reason == "max attempts"


def test_rate_limiter_on_trio_caps_requests_in_flight() -> None:
    """The limiter's in-flight cap holds on trio."""
    limiter = AdaptiveRateLimiter(max_in_flight=2)
    running = peak = 0

    async def one() -> None:
        nonlocal running, peak
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
            running -= 1

    async def main() -> int:
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
        return peak

    assert on_trio(main) == 2
