"""Pins on the adaptive limiter: where a throttle cuts from, the recovery curve, the defaults."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from ica_tapis_async import RequestValidationError
from ica_tapis_async._concurrency import CubicCalculator, RateClock, TokenBucket
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
    assert below is not None
    assert below < 20
    assert limiter.rate == 20


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


# --- more edges ----------------------------------------------------------------------------------


def test_cubic_starts_and_resets_at_zero() -> None:
    """Before any throttle (and after a reset) the curve is 0.4 * t**3 from time zero."""
    fresh = CubicCalculator()
    used = CubicCalculator()
    used.throttled(10.0, now=5.0)
    used.reset()
    assert [fresh.w_max, fresh.rate_at(2.0), used.w_max, used.rate_at(2.0)] == [
        0.0,
        pytest.approx(3.2),
        0.0,
        pytest.approx(3.2),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_rate": 0}, "min_rate: must be > 0, got 0"),
        ({"rate": -1.0}, "rate: must be > 0, got -1.0 (None means no limit)"),
        ({"rate": float("nan")}, "rate: must be finite, got nan (None means no limit)"),
        ({"burst": 0}, "burst: must be >= 1, got 0"),
        ({"max_in_flight": 0}, "max_in_flight: must be >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused_with_the_whole_message(
    kwargs: dict[str, float], message: str
) -> None:
    """Each bad setting names itself and the value given (a library error, still a ValueError)."""
    with pytest.raises(RequestValidationError) as info:
        AdaptiveRateLimiter(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


async def test_success_on_an_unthrottled_unlimited_limiter_keeps_it_unlimited() -> None:
    """Without a throttle there is no curve to follow: unlimited stays unlimited."""
    clock = FakeClock()
    limiter = make(clock)
    clock.now += 100
    await limiter.record_success()
    assert limiter.rate is None


async def test_full_burst_above_the_rate_is_restored_after_recovery() -> None:
    """A burst of 30 over a 20/s ceiling is cut to 20 while throttled, and is 30 again after."""
    clock = FakeClock()
    limiter = make(clock, rate=20, burst=30)
    await send(limiter, clock, 60, gap=0.05)
    await limiter.record_throttle()
    clock.now += 60
    await limiter.record_success()
    clock.now += 100
    assert await slots_without_waiting(limiter, clock) == 30


async def test_burst_set_at_construction_is_cut_by_a_throttle() -> None:
    """Throttled from 10/s to 7/s with a burst of 10: a quiet spell refills 7 tokens."""
    clock = FakeClock()
    limiter = make(clock, rate=20, burst=10)
    await send(limiter, clock, 30, gap=0.1)
    await limiter.record_throttle()
    clock.now += 100
    assert await slots_without_waiting(limiter, clock) == 7


async def test_a_throttled_rate_under_one_holds_a_single_token() -> None:
    """Cut below 1/s, the bucket holds one token: no burst at all."""
    clock = FakeClock()
    limiter = make(clock, rate=1, burst=10)
    await send(limiter, clock, 10, gap=0)
    await limiter.record_throttle()
    clock.now += 100
    assert await slots_without_waiting(limiter, clock) == 1


async def test_throttle_of_a_slow_sender_cuts_from_what_it_sent() -> None:
    """Sending one request every 2 s under a 10/s ceiling: the cut is to 0.35/s, not 7/s."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=1, min_rate=0.1)
    await send(limiter, clock, 10, gap=2.0)
    await limiter.record_throttle()
    assert limiter.rate == pytest.approx(0.35, rel=0.05)


async def test_slot_is_granted_exactly_when_the_pause_ends() -> None:
    """At the pause's end a token waiting in the bucket is taken without sleeping."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=5)
    await limiter.pause_for(2.0)
    clock.now += 2.0
    async with limiter.slot():
        pass
    assert clock.sleeps == []


async def test_a_free_token_at_the_end_of_a_pause_is_taken_without_yielding() -> None:
    """When the pause is over and a token is there, ``slot()`` enters at once: no other task
    runs first (the fast path that keeps the limiter's cost per request small)."""
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=5)
    await limiter.pause_for(2.0)
    clock.now += 2.0
    others_ran: list[bool] = []
    ran = False

    async def other() -> None:
        nonlocal ran
        ran = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)
        async with limiter.slot():
            others_ran.append(ran)
    assert others_ran == [False]


async def test_a_zero_pause_changes_nothing() -> None:
    """``pause_for(0)`` sets no pause."""
    limiter = make(FakeClock())
    await limiter.pause_for(0)
    assert limiter.paused_until == 0.0


async def test_a_short_pause_is_kept() -> None:
    """Half a second is a pause too."""
    clock = FakeClock()
    limiter = make(clock)
    await limiter.pause_for(0.5)
    assert limiter.paused_until == clock.now + 0.5


async def waiter_asleep(rate: float) -> tuple[AdaptiveRateLimiter, StallingClock]:
    """A limiter at ``rate`` whose next caller is asleep waiting for a token."""
    clock = StallingClock()
    limiter = AdaptiveRateLimiter(rate=rate, burst=1, clock=clock, sleep=clock.sleep)
    async with limiter.slot():
        pass
    return limiter, clock


@pytest.mark.parametrize("new_rate", [0.001, 0.01])
async def test_lowering_or_keeping_the_rate_does_not_wake_the_waiter(new_rate: float) -> None:
    """Only a faster rate re-times a sleeping waiter; a slower or equal one lets it sleep on."""
    limiter, clock = await waiter_asleep(0.01)

    async def waiter() -> None:
        async with limiter.slot():
            pass

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            while not clock.sleeps:
                await anyio.lowlevel.checkpoint()
            limiter.update(rate=new_rate)
            for _ in range(20):
                await anyio.lowlevel.checkpoint()
            sleeps = list(clock.sleeps)
            tg.cancel_scope.cancel()
    assert sleeps == [pytest.approx(100)]


# --- the parts --------------------------------------------------------------------------------


def test_a_bucket_with_tokens_to_spare_has_no_wait() -> None:
    """One and a half tokens in the bucket: the wait is zero, never negative."""
    bucket = TokenBucket(10.0, 5.0, now=0.0)
    assert bucket.wait_time(0.15) == 0.0


def test_a_full_bucket_has_no_wait() -> None:
    """A full bucket of several tokens means no wait."""
    bucket = TokenBucket(10.0, 5.0, now=0.0)
    assert bucket.wait_time(100.0) == 0.0


def test_rate_clock_accepts_full_weight_on_the_newest_window() -> None:
    """``smoothing=1`` (no memory) is allowed."""
    clock = RateClock(window=1.0, smoothing=1.0)
    for t in (0.1, 0.2, 1.1):
        clock.record(t)
    assert clock.rate(1.2) == 2.0


def test_rate_clock_smooths_window_after_window() -> None:
    """Windows of 4/s then 2/s at smoothing 0.5 read 3/s (the newest half, the rest half)."""
    clock = RateClock(window=1.0, smoothing=0.5)
    for t in (0.1, 0.2, 0.3, 0.4, 1.1, 1.2, 2.1):
        clock.record(t)
    assert clock.rate(2.2) == pytest.approx(3.0)


def test_rate_clock_keeps_counting_after_a_window_closes() -> None:
    """The window opened by a send is the one the next sends count in."""
    clock = RateClock(window=1.0, smoothing=1.0)
    for t in (0.1, 1.1, 1.2, 1.3, 2.5):
        clock.record(t)
    assert clock.rate(2.6) == pytest.approx(3.0)
