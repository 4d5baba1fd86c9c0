"""The limiter's parts alone (bucket, rate clock, cubic) and the pause it adds (Retry-After)."""

from __future__ import annotations

import anyio
import pytest

from ica_tapis_async.concurrency import (
    AdaptiveRateLimiter,
    CubicCalculator,
    RateClock,
    RateLimiter,
    TokenBucket,
)

from .fakes import FakeClock


def test_bucket_starts_empty_and_fills_at_its_rate() -> None:
    """No token at the start; one after 1/rate seconds; never more than the capacity."""
    bucket = TokenBucket(4.0, 2, now=0.0)
    assert not bucket.try_take(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(0.25)
    assert bucket.try_take(0.25)
    assert bucket.tokens(100.0) == 2


def test_bucket_unlimited_always_gives() -> None:
    """rate=None: every take succeeds and nothing is waited."""
    bucket = TokenBucket(None, 1, now=0.0)
    assert all(bucket.try_take(0.0) for _ in range(50))
    assert bucket.wait_time(0.0) == 0.0


def test_bucket_reshape_credits_the_past_at_the_old_rate() -> None:
    """Time before a rate change is credited at the old rate, then the new one applies."""
    bucket = TokenBucket(1.0, 10, now=0.0)
    bucket.reshape(100.0, 10, now=2.0)  # 2 s at 1/s: 2 tokens, not 200
    assert bucket.tokens(2.0) == pytest.approx(2.0)
    bucket.reshape(100.0, 1, now=2.0)  # a smaller capacity drops the excess
    assert bucket.tokens(2.0) == pytest.approx(1.0)


def test_rate_clock_measures_windows_and_smooths() -> None:
    """Ten sends in each half-second window read as 20/s; a quiet window pulls it down smoothly."""
    meter = RateClock(window=0.5, smoothing=0.8)
    assert meter.rate(0.0) == 0.0
    for window in range(4):
        for i in range(10):
            meter.record(window * 0.5 + i * 0.01)
    assert meter.rate(2.0) == pytest.approx(20.0)
    meter.record(3.0)  # 1 s without sends: the windows since count as one slow window
    assert 0 < meter.rate(3.0) < 20.0


def test_rate_clock_first_window_is_not_over_a_millisecond() -> None:
    """Three sends in a millisecond do not read as thousands per second."""
    meter = RateClock(window=0.5)
    for t in (0.0, 0.0005, 0.001):
        meter.record(t)
    assert meter.rate(0.001) == pytest.approx(6.0)


@pytest.mark.parametrize(("window", "smoothing"), [(0, 0.5), (1, 0), (1, 1.5)])
def test_rate_clock_rejects_bad_settings(window: float, smoothing: float) -> None:
    """Non-positive windows and smoothing outside (0, 1] are refused."""
    with pytest.raises(ValueError, match="window"):
        RateClock(window=window, smoothing=smoothing)


def test_cubic_cuts_then_climbs_back_past_the_old_rate() -> None:
    """A throttle at 100/s cuts to 70/s; the curve regains 100/s after k seconds, then probes."""
    cubic = CubicCalculator()
    assert cubic.throttled(100.0, now=10.0) == pytest.approx(70.0)
    k = (100.0 * 0.3 / 0.4) ** (1 / 3)
    assert cubic.rate_at(10.0) == pytest.approx(70.0)
    assert cubic.rate_at(10.0 + k) == pytest.approx(100.0)
    assert cubic.rate_at(10.0 + 2 * k) > 100.0
    rates = [cubic.rate_at(10.0 + t / 10) for t in range(100)]
    assert rates == sorted(rates)


@pytest.mark.parametrize(("beta", "scale"), [(0, 0.4), (1, 0.4), (0.7, 0)])
def test_cubic_rejects_bad_constants(beta: float, scale: float) -> None:
    """beta outside (0, 1) or a non-positive scale is refused."""
    with pytest.raises(ValueError, match="beta"):
        CubicCalculator(beta=beta, scale=scale)


async def test_pause_holds_back_every_slot_until_it_ends() -> None:
    """pause_for(30) makes the next slot, whoever takes it, wait 30 s (unlimited rate)."""
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    await limiter.pause_for(30)
    async with limiter.slot():
        pass
    assert clock.now == pytest.approx(1030.0)
    async with limiter.slot():
        pass
    assert clock.now == pytest.approx(1030.0)


async def test_pause_only_lengthens() -> None:
    """A shorter pause inside a longer one changes nothing; a non-positive one is ignored."""
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock=clock, sleep=clock.sleep)
    await limiter.pause_for(60)
    await limiter.pause_for(5)
    await limiter.pause_for(-1)
    assert limiter.paused_until == pytest.approx(1060.0)


async def test_pause_applies_to_waiters_already_queued() -> None:
    """Callers queued for a token when the pause comes wait for the pause too."""
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(rate=1, burst=1, clock=clock, sleep=clock.sleep)
    entered: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            entered.append(clock.now)

    async with limiter.slot():
        await limiter.pause_for(100)
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(one)
    assert min(entered) >= 1100.0


async def test_the_adaptive_limiter_is_a_rate_limiter() -> None:
    """It satisfies the protocol, and aclose is harmless to repeat."""
    limiter = AdaptiveRateLimiter(rate=3)
    assert isinstance(limiter, RateLimiter)
    await limiter.aclose()
    await limiter.aclose()
    async with limiter.slot():
        pass
