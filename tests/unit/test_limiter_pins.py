"""Pins on the adaptive limiter: where a throttle cuts from, the recovery curve, the defaults."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from ica_tapis_async.concurrency import AdaptiveRateLimiter

from .fakes import FakeClock


def make(clock: FakeClock, **kwargs: object) -> AdaptiveRateLimiter:
    """A limiter on the fake clock."""
    return AdaptiveRateLimiter(clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


async def send(limiter: AdaptiveRateLimiter, clock: FakeClock, n: int, gap: float) -> None:
    """``n`` requests, ``gap`` fake seconds apart (or slower if the bucket says so)."""
    for _ in range(n):
        async with limiter.slot():
            pass
        clock.now += gap


async def slots_without_waiting(limiter: AdaptiveRateLimiter, clock: FakeClock) -> int:
    """How many slots in a row are granted before one has to wait."""
    granted = 0
    before = len(clock.sleeps)
    while len(clock.sleeps) == before:
        async with limiter.slot():
            pass
        granted += 1
    return granted - 1


def cubic_k(w_max: float) -> float:
    """Seconds the curve takes to climb back to ``w_max`` (botocore: beta 0.7, scale 0.4)."""
    return float((w_max * 0.3 / 0.4) ** (1 / 3))


# --- which rate a throttle cuts from ---------------------------------------------------------


async def test_throttle_cuts_from_the_measured_rate_below_the_configured_one() -> None:
    """Sending at 10/s under a 100/s ceiling: the cut is from 10/s, to 7/s."""
    clock = FakeClock()
    limiter = make(clock, rate=100, burst=1)
    await send(limiter, clock, 30, gap=0.1)
    measured = limiter.measured_rate
    await limiter.record_throttle()
    assert limiter.rate == pytest.approx(0.7 * measured)


async def test_measured_rate_of_a_steady_sender() -> None:
    """Ten requests a second, steadily, measure as ten a second."""
    clock = FakeClock()
    limiter = make(clock, rate=100, burst=1)
    await send(limiter, clock, 30, gap=0.1)
    assert limiter.measured_rate == pytest.approx(10, rel=0.05)


async def test_throttle_cuts_from_the_configured_rate_when_a_burst_measures_higher() -> None:
    """A burst measures above the 1/s ceiling: the cut is from the ceiling, to 0.7/s."""
    clock = FakeClock()
    limiter = make(clock, rate=1, burst=10)
    await send(limiter, clock, 10, gap=0)
    await limiter.record_throttle()
    assert limiter.rate == pytest.approx(0.7)


async def test_throttle_before_any_send_cuts_from_the_configured_rate() -> None:
    """Nothing measured yet, a 10/s ceiling: the cut is to 7/s."""
    limiter = make(FakeClock(), rate=10)
    await limiter.record_throttle()
    assert limiter.rate == pytest.approx(7.0)


async def test_throttle_never_changes_the_configured_rate() -> None:
    """The ceiling stays what the caller set; only the current rate moves."""
    limiter = make(FakeClock(), rate=10)
    await limiter.record_throttle()
    assert limiter.configured_rate == 10


# --- the cubic recovery ----------------------------------------------------------------------


async def throttled_at_ten(rate: float = 20) -> tuple[AdaptiveRateLimiter, FakeClock, float]:
    """A limiter under a ``rate`` ceiling, throttled while sending 10/s; and the throttle time."""
    clock = FakeClock()
    limiter = make(clock, rate=rate, burst=1)
    await send(limiter, clock, 30, gap=0.1)
    await limiter.record_throttle()
    return limiter, clock, clock.now


@pytest.mark.parametrize("multiple", [0.0, 0.5, 1.0, 1.5, 2.0])
async def test_recovery_follows_the_cubic_curve(multiple: float) -> None:
    """After a throttle at w_max the rate is 0.4 * (t - k)**3 + w_max, k = cbrt(w_max*0.3/0.4)."""
    limiter, clock, start = await throttled_at_ten()
    w_max = limiter.rate / 0.7  # type: ignore[operator]
    k = cubic_k(w_max)
    clock.now = start + multiple * k
    await limiter.record_success()
    assert limiter.rate == pytest.approx(0.4 * (multiple * k - k) ** 3 + w_max)


async def test_recovery_plateaus_at_the_throttled_rate_after_k_seconds() -> None:
    """k seconds after the throttle the rate is back where the throttle came."""
    limiter, clock, start = await throttled_at_ten()
    w_max = limiter.rate / 0.7  # type: ignore[operator]
    clock.now = start + cubic_k(w_max)
    await limiter.record_success()
    assert limiter.rate == pytest.approx(w_max)


async def test_recovery_reaches_the_ceiling_after_about_five_seconds() -> None:
    """From a throttle at 10/s under a 20/s ceiling the curve needs ~4.9 s to reach 20/s."""
    limiter, clock, start = await throttled_at_ten()
    clock.now = start + 4.8
    await limiter.record_success()
    below = limiter.rate
    clock.now = start + 5.0
    await limiter.record_success()
    assert (below < 20, limiter.rate) == (True, 20)


async def test_recovery_never_passes_the_ceiling() -> None:
    """Long after the throttle the rate is the configured one, not the curve's."""
    limiter, clock, start = await throttled_at_ten()
    clock.now = start + 60
    await limiter.record_success()
    assert limiter.rate == 20


async def test_after_recovery_the_curve_is_forgotten() -> None:
    """Once back at the ceiling, later successes keep it there."""
    limiter, clock, start = await throttled_at_ten()
    clock.now = start + 60
    await limiter.record_success()
    clock.now += 1
    await limiter.record_success()
    assert limiter.rate == 20


async def test_success_without_a_throttle_changes_nothing() -> None:
    """A limiter that was never throttled keeps its rate on success."""
    clock = FakeClock()
    limiter = make(clock, rate=5)
    clock.now += 100
    await limiter.record_success()
    assert limiter.rate == 5


# --- the burst -------------------------------------------------------------------------------


async def test_burst_is_cut_while_throttled() -> None:
    """Throttled to 7/s, a quiet spell refills at most 7 tokens, not the burst of 10."""
    limiter, clock, _ = await throttled_at_ten()
    limiter.update(burst=10)  # a new burst, the throttled rate kept
    clock.now += 100
    assert await slots_without_waiting(limiter, clock) == 7


async def test_full_burst_is_restored_after_recovery() -> None:
    """Back at the ceiling, a quiet spell refills the whole burst again."""
    clock = FakeClock()
    limiter = make(clock, rate=20, burst=10)
    await send(limiter, clock, 30, gap=0.1)
    await limiter.record_throttle()
    clock.now += 60
    await limiter.record_success()
    clock.now += 100
    assert await slots_without_waiting(limiter, clock) == 10


# --- waiting for a token -----------------------------------------------------------------------


async def test_a_partial_token_shortens_the_wait() -> None:
    """At 10/s, 0.04 s after the last token the next one is 0.06 s away, not 0.1 s."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1)
    async with limiter.slot():
        pass
    clock.now += 0.04
    async with limiter.slot():
        pass
    assert clock.sleeps == [pytest.approx(0.06)]


class StallingClock(FakeClock):
    """A clock whose sleeps last until a test moves the time past them."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        until = self.now + seconds
        while self.now < until:
            await anyio.lowlevel.checkpoint()


async def test_raising_the_rate_wakes_a_waiter_sleeping_at_the_old_rate() -> None:
    """A waiter sleeping 100 s at 0.01/s takes the next token 0.01 s after a raise to 100/s."""
    clock = StallingClock()
    limiter = AdaptiveRateLimiter(rate=0.01, burst=1, clock=clock, sleep=clock.sleep)
    async with limiter.slot():
        pass
    done = anyio.Event()

    async def waiter() -> None:
        async with limiter.slot():
            done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            while not clock.sleeps:
                await anyio.lowlevel.checkpoint()
            limiter.update(rate=100)
            while len(clock.sleeps) < 2:
                await anyio.lowlevel.checkpoint()
            clock.now += 0.01
            await done.wait()
    assert clock.sleeps == [pytest.approx(100), pytest.approx(0.01)]


# --- defaults --------------------------------------------------------------------------------


def test_default_limiter_is_unlimited() -> None:
    """No rate, no ceiling: nothing is paced until the first throttle."""
    limiter = AdaptiveRateLimiter()
    assert (limiter.rate, limiter.configured_rate) == (None, None)


def test_default_min_rate_is_half_a_request_per_second() -> None:
    """Throttles never cut below 0.5/s unless said otherwise."""
    assert AdaptiveRateLimiter().min_rate == 0.5


def test_fresh_limiter_counts_nothing() -> None:
    """No throttle, nothing in flight, no pause."""
    limiter = AdaptiveRateLimiter()
    assert (limiter.throttle_count, limiter.in_flight, limiter.paused_until) == (0, 0, 0.0)


async def test_default_burst_is_ten() -> None:
    """At 1/s with the default burst, ten requests go at once after a quiet spell."""
    clock = FakeClock()
    limiter = make(clock, rate=1)
    clock.now += 100
    assert await slots_without_waiting(limiter, clock) == 10


async def test_default_has_no_in_flight_cap() -> None:
    """Without max_in_flight, fifty requests can be inside their slots at once."""
    limiter = AdaptiveRateLimiter()
    inside = 0
    peak = 0
    release = anyio.Event()

    async def one() -> None:
        nonlocal inside, peak
        async with limiter.slot():
            inside += 1
            peak = max(peak, inside)
            await release.wait()
            inside -= 1

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(one)
            while inside < 50:
                await anyio.lowlevel.checkpoint()
            release.set()
    assert peak == 50


async def test_default_is_adaptive() -> None:
    """Throttles cut the rate unless ``adaptive=False``."""
    limiter = make(FakeClock(), rate=10)
    await limiter.record_throttle()
    assert limiter.rate != 10
