"""AdaptiveRateLimiter on a fake clock: pacing, burst, in-flight cap, throttle and recovery."""

from __future__ import annotations

import itertools

import anyio
import anyio.lowlevel
import pytest

from ica_tapis_async.concurrency import AdaptiveRateLimiter

from .fakes import FakeClock


def make(clock: FakeClock, **kwargs: object) -> AdaptiveRateLimiter:
    """Build a limiter on the fake clock."""
    return AdaptiveRateLimiter(clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


async def send_for(
    limiter: AdaptiveRateLimiter, clock: FakeClock, seconds: float, gap: float
) -> None:
    """Send one request every ``gap`` fake seconds (or slower, if the bucket says so)."""
    end = clock.now + seconds
    while clock.now < end:
        async with limiter.slot():
            pass
        clock.now += gap


async def test_bucket_paces_to_the_rate() -> None:
    """With burst 1, 21 sequential requests at 10/s take 2 fake seconds."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1)
    start = clock.now
    for _ in range(21):
        async with limiter.slot():
            pass
    assert clock.now - start == pytest.approx(2.0)
    assert all(s == pytest.approx(0.1) for s in clock.sleeps)


async def test_burst_goes_at_once_then_paces() -> None:
    """A full bucket lets `burst` requests through without waiting; the next one waits 1/rate."""
    clock = FakeClock()
    limiter = make(clock, rate=2, burst=5)
    for _ in range(5):
        async with limiter.slot():
            pass
    assert clock.sleeps == []
    async with limiter.slot():
        pass
    assert clock.sleeps == [pytest.approx(0.5)]


async def test_bucket_refills_up_to_burst_only() -> None:
    """A long idle spell refills at most `burst` tokens."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=3)
    for _ in range(3):
        async with limiter.slot():
            pass
    clock.now += 100
    for _ in range(4):
        async with limiter.slot():
            pass
    assert clock.sleeps == [pytest.approx(0.1)]


async def test_unlimited_never_waits() -> None:
    """rate=None never sleeps and reports no rate."""
    clock = FakeClock()
    limiter = make(clock)
    for _ in range(100):
        async with limiter.slot():
            pass
    assert clock.sleeps == []
    assert limiter.rate is None


async def test_concurrent_waiters_are_paced_in_arrival_order() -> None:
    """Twenty concurrent callers get tokens one per 1/rate, first come first served."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1)
    order: list[int] = []
    times: list[float] = []

    async def call(i: int) -> None:
        async with limiter.slot():
            order.append(i)
            times.append(clock.now)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(call, i)
    assert order == list(range(20))
    assert times[-1] - times[0] == pytest.approx(1.9)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g == pytest.approx(0.1) for g in gaps)


async def test_max_in_flight_is_never_exceeded() -> None:
    """Fifty concurrent tasks never have more than max_in_flight inside slot()."""
    clock = FakeClock()
    limiter = make(clock, max_in_flight=5)
    peak = 0

    async def call(i: int) -> None:
        nonlocal peak
        async with limiter.slot():
            peak = max(peak, limiter.in_flight)
            for _ in range(i % 7 + 1):
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(call, i)
    assert peak == 5
    assert limiter.in_flight == 0


async def test_one_task_may_nest_slots() -> None:
    """Slots borrow on behalf of a fresh object, so nesting in one task does not raise."""
    limiter = make(FakeClock(), max_in_flight=2)
    async with limiter.slot(), limiter.slot():
        assert limiter.in_flight == 2


async def test_cancelled_token_waiter_gives_its_slot_back() -> None:
    """A caller cancelled while waiting for a token leaves no slot or in-flight count behind."""
    limiter = AdaptiveRateLimiter(
        rate=1, burst=1, max_in_flight=1, sleep=lambda _: anyio.sleep_forever()
    )
    async with limiter.slot():
        pass
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_enter_slot, limiter)
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
            scope.cancel()
    assert scope.cancelled_caught
    assert limiter.in_flight == 0
    limiter.update(rate=None)
    async with limiter.slot():  # the slot is free again
        assert limiter.in_flight == 1


async def _enter_slot(limiter: AdaptiveRateLimiter) -> None:
    """Take a slot and hold it briefly."""
    async with limiter.slot():
        await anyio.lowlevel.checkpoint()


async def test_throttle_cuts_unlimited_to_seventy_percent_of_measured() -> None:
    """The first throttle on an unlimited limiter starts pacing at 0.7x the measured rate."""
    clock = FakeClock()
    limiter = make(clock)
    await send_for(limiter, clock, seconds=3, gap=0.05)
    measured = limiter.measured_rate
    assert measured == pytest.approx(20, rel=0.05)
    await limiter.record_throttle()
    assert limiter.rate == pytest.approx(0.7 * measured)
    assert limiter.throttle_count == 1


async def test_throttle_cuts_configured_rate() -> None:
    """A throttle at a paced 10/s cuts the rate to about 7/s."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1)
    await send_for(limiter, clock, seconds=3, gap=0)
    measured = limiter.measured_rate
    assert measured == pytest.approx(10, rel=0.05)
    await limiter.record_throttle()
    assert limiter.rate == pytest.approx(0.7 * measured)
    assert limiter.configured_rate == 10


async def test_repeated_throttles_stop_at_min_rate() -> None:
    """Fifty throttles in a row never take the rate below min_rate."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1, min_rate=0.5)
    await send_for(limiter, clock, seconds=2, gap=0)
    rates = []
    for _ in range(50):
        await limiter.record_throttle()
        rates.append(limiter.rate)
    assert all(r is not None and r >= 0.5 for r in rates)
    assert rates[-1] == pytest.approx(0.5)
    assert limiter.min_rate == 0.5
    assert limiter.throttle_count == 50


async def test_successes_recover_smoothly_to_the_configured_rate() -> None:
    """After a throttle, successes raise the rate monotonically, in small steps, back to 10/s."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1)
    await send_for(limiter, clock, seconds=2, gap=0)
    await limiter.record_throttle()
    assert limiter.rate is not None
    rates: list[float] = [limiter.rate]
    for _ in range(100):
        async with limiter.slot():
            pass
        await limiter.record_success()
        assert limiter.rate is not None
        rates.append(limiter.rate)
    assert rates[0] == pytest.approx(7, rel=0.05)
    assert all(b >= a for a, b in itertools.pairwise(rates))
    assert max(b - a for a, b in itertools.pairwise(rates)) < 1.0
    assert rates[-1] == 10


async def test_unlimited_recovery_probes_past_the_last_max() -> None:
    """Without a configured rate, the cubic climbs past the rate at which the throttle came."""
    clock = FakeClock()
    limiter = make(clock)
    await send_for(limiter, clock, seconds=3, gap=0.05)
    measured = limiter.measured_rate
    await limiter.record_throttle()
    clock.now += 10
    await limiter.record_success()
    assert limiter.rate is not None
    assert limiter.rate > measured


async def test_non_adaptive_only_counts_throttles() -> None:
    """adaptive=False keeps the configured rate through throttles."""
    clock = FakeClock()
    limiter = make(clock, rate=10, adaptive=False)
    await send_for(limiter, clock, seconds=1, gap=0)
    await limiter.record_throttle()
    await limiter.record_success()
    assert limiter.rate == 10
    assert limiter.throttle_count == 1


async def test_throttle_before_any_send_falls_to_min_rate() -> None:
    """With nothing measured yet, an unlimited limiter's first throttle starts at min_rate."""
    limiter = make(FakeClock(), min_rate=2.0)
    await limiter.record_throttle()
    assert limiter.rate == 2.0


async def test_rate_increase_wakes_the_waiting_caller() -> None:
    """Raising the rate cuts short the head waiter's sleep (real clock, no real wait)."""
    limiter = AdaptiveRateLimiter(rate=0.01, burst=1)
    async with limiter.slot():
        pass
    with anyio.fail_after(1):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_enter_slot, limiter)
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
            limiter.update(rate=None)


async def test_update_changes_burst_and_in_flight() -> None:
    """update() resizes the bucket and the in-flight cap."""
    clock = FakeClock()
    limiter = make(clock, rate=1, burst=10, max_in_flight=1)
    limiter.update(burst=2, max_in_flight=3)
    async with limiter.slot(), limiter.slot():
        assert limiter.in_flight == 2
    assert clock.sleeps == []
    async with limiter.slot():
        pass
    assert clock.sleeps == [pytest.approx(1.0)]
    limiter.update(max_in_flight=None)
    assert limiter.in_flight == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": 0}, {"rate": -1.0}, {"burst": 0}, {"max_in_flight": 0}, {"min_rate": 0}],
)
def test_rejects_non_positive_settings(kwargs: dict[str, float]) -> None:
    """Zero or negative settings raise ValueError."""
    with pytest.raises(ValueError):
        AdaptiveRateLimiter(**kwargs)  # type: ignore[arg-type]


def test_min_rate_never_above_configured_rate() -> None:
    """A configured rate below min_rate lowers the floor to it."""
    assert AdaptiveRateLimiter(rate=0.1).min_rate == 0.1
