"""Client-side adaptive rate limiting: token bucket, in-flight cap, CUBIC throttle recovery."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

import anyio

__all__ = ("AdaptiveRateLimiter",)

# CUBIC constants, as botocore's adaptive retry mode uses them.
_BETA: Final = 0.7  # multiplicative decrease on a throttle
_SCALE: Final = 0.4  # how steeply the rate climbs back
# The send rate is measured over half-second windows and smoothed, so one busy instant
# doesn't set the rate a throttle is cut from.
_WINDOW: Final = 0.5
_SMOOTHING: Final = 0.8
_EPSILON: Final = 1e-6  # tokens


class _Unset:
    """Marks an ``update()`` argument that was not passed (``None`` means "unlimited")."""


_UNSET: Final = _Unset()


class AdaptiveRateLimiter:
    """Paces requests to a rate, caps requests in flight, and backs off when throttled.

    One limiter is shared by every coroutine talking to one host. Each request runs inside
    ``async with limiter.slot():``, which waits for an in-flight slot, then for a token. The
    session reports each answer: ``record_throttle()`` for a 429 or throttle body, which cuts
    the rate to 0.7x the measured send rate; ``record_success()`` otherwise, which lets the rate
    climb back along a cubic curve towards (and past) the rate at which the throttle came,
    capped at the configured ``rate``.

    Args:
        rate: tokens per second, or ``None`` for no pacing until the first throttle.
        burst: bucket capacity: how many requests may go at once after a quiet spell.
        max_in_flight: most requests inside ``slot()`` at a time; ``None`` for no cap.
        min_rate: throttles never cut the rate below this (tokens per second).
        adaptive: when false, throttles are only counted and the rate never changes.
        clock: monotonic time source in seconds; tests pass a fake one.
        sleep: awaited to wait for a token; tests pass one that advances the fake clock.

    Raises:
        ValueError: if a rate, ``burst``, ``max_in_flight`` or ``min_rate`` is not positive.

    Example::

        limiter = AdaptiveRateLimiter(rate=20, burst=5, max_in_flight=8)
        async with limiter.slot():
            status = await send()
        limiter.record_throttle() if status == 429 else limiter.record_success()
    """

    def __init__(
        self,
        rate: float | None = None,
        burst: int = 10,
        max_in_flight: int | None = None,
        *,
        min_rate: float = 0.5,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if min_rate <= 0:
            raise ValueError(f"min_rate must be > 0, not {min_rate!r}")
        self._clock = clock
        self._sleep = sleep
        self._adaptive = adaptive
        self._min_rate_setting = min_rate
        self._lock = anyio.Lock()  # FIFO hand-off: token waiters are served in arrival order
        self._wakeup: anyio.CancelScope | None = None  # the head waiter's sleep
        self._in_flight = 0
        self._throttle_count = 0
        self._last_refill = clock()
        # Send-rate measurement; the first window opens at the first send, not at construction.
        self._window_start: float | None = None
        self._window_count = 0
        self._measured: float | None = None
        self._slots: anyio.CapacityLimiter | None = None
        self._configured: float | None = None
        self._rate: float | None = None
        self._burst = 1
        self._tokens = 0.0
        # CUBIC state: the rate at the last throttle, when it came, and the time to regain it.
        self._throttled = False
        self._w_max = self._k = self._last_throttle = 0.0
        self.update(rate=rate, burst=burst, max_in_flight=max_in_flight)

    # -- read-only state ---------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Current fill rate in tokens per second, or ``None`` while unlimited."""
        return self._rate

    @property
    def configured_rate(self) -> float | None:
        """The rate given to the constructor or ``update()``; ``None`` for unlimited."""
        return self._configured

    @property
    def min_rate(self) -> float:
        """The floor under throttle cuts (never above the configured rate)."""
        return self._min_rate

    @property
    def in_flight(self) -> int:
        """How many callers are inside ``slot()`` right now."""
        return self._in_flight

    @property
    def throttle_count(self) -> int:
        """How many throttles were recorded since the limiter was made."""
        return self._throttle_count

    @property
    def measured_rate(self) -> float:
        """Smoothed send rate in requests per second, as throttle cuts see it."""
        if self._measured is not None:
            return self._measured
        if self._window_start is None:
            return 0.0
        # No window has closed yet: estimate from the open one, never over less than a window,
        # so three requests in a millisecond don't read as thousands per second.
        return self._window_count / max(self._clock() - self._window_start, _WINDOW)

    @property
    def _min_rate(self) -> float:
        if self._configured is None:
            return self._min_rate_setting
        return min(self._min_rate_setting, self._configured)

    # -- use -------------------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold an in-flight slot and one token for the duration of a request.

        The slot is taken before the token, so a token is spent just before the request is
        sent; taking tokens first would let slot waiters bank them and then burst.
        """
        slots = self._slots  # keep our own reference: update() may swap the limiter
        borrower = object()  # a fresh borrower per slot, so one task may nest slots
        if slots is not None:
            # The free-slot fast path skips anyio's two scheduler round trips per acquire,
            # which cost more than the rest of a request's bookkeeping.
            try:
                slots.acquire_on_behalf_of_nowait(borrower)
            except anyio.WouldBlock:
                await slots.acquire_on_behalf_of(borrower)
        try:
            if not self._take_token_nowait():
                await self._take_token()
            self._record_send(self._clock())
            self._in_flight += 1
            try:
                yield
            finally:
                self._in_flight -= 1
        finally:
            if slots is not None:
                slots.release_on_behalf_of(borrower)

    def record_throttle(self) -> None:
        """Report a throttled answer: cut the rate to 0.7x what was being sent (CUBIC)."""
        self._throttle_count += 1
        if not self._adaptive:
            return
        now = self._clock()
        measured = self.measured_rate
        if self._rate is None:
            base = measured
        else:
            # Sending slower than the bucket allows: the measured rate is what hit the limit.
            base = min(measured, self._rate) if measured > 0 else self._rate
        self._w_max = max(base, self._min_rate)
        self._k = (self._w_max * (1 - _BETA) / _SCALE) ** (1 / 3)
        self._last_throttle = now
        self._throttled = True
        self._set_rate(max(base * _BETA, self._min_rate), now)

    def record_success(self) -> None:
        """Report a good answer: after a throttle, let the rate climb back along the cubic."""
        if not (self._adaptive and self._throttled):
            return
        now = self._clock()
        # The cubic starts at 0.7 * w_max at the throttle, flattens near w_max after k seconds,
        # then climbs past it to probe for more room; it only ever rises with time.
        new = _SCALE * (now - self._last_throttle - self._k) ** 3 + self._w_max
        if self._configured is not None and new >= self._configured:
            self._throttled = False
            new = self._configured
        self._set_rate(max(new, self._min_rate), now)

    def update(
        self,
        *,
        rate: float | _Unset | None = _UNSET,
        burst: int | _Unset = _UNSET,
        max_in_flight: int | _Unset | None = _UNSET,
    ) -> None:
        """Change the configuration; a new ``rate`` also ends any throttled state.

        Args:
            rate: new configured rate (``None`` for unlimited).
            burst: new bucket capacity.
            max_in_flight: new in-flight cap (``None`` for none); requests already inside
                ``slot()`` keep their slot.

        Raises:
            ValueError: if a value is not positive.
        """
        now = self._clock()
        if not isinstance(burst, _Unset):
            if burst < 1:
                raise ValueError(f"burst must be >= 1, not {burst!r}")
            self._refill(now)
            self._burst = burst
            self._tokens = min(self._tokens, float(self._capacity()))
        if not isinstance(max_in_flight, _Unset):
            if max_in_flight is None:
                self._slots = None
            elif max_in_flight < 1:
                raise ValueError(f"max_in_flight must be >= 1, not {max_in_flight!r}")
            elif self._slots is None:
                self._slots = anyio.CapacityLimiter(max_in_flight)
            else:
                self._slots.total_tokens = max_in_flight
        if not isinstance(rate, _Unset):
            if rate is not None and rate <= 0:
                raise ValueError(f"rate must be > 0 or None, not {rate!r}")
            self._configured = rate
            self._throttled = False
            self._w_max = self._k = self._last_throttle = 0.0
            self._set_rate(rate, now)

    # -- internals -------------------------------------------------------------------------

    def _capacity(self) -> float:
        # While throttled, hold at most one second's worth of tokens (at least one), so a
        # cut rate is not undone by a full burst.
        if self._throttled and self._rate is not None:
            return min(self._burst, max(1.0, self._rate))
        return self._burst

    def _refill(self, now: float) -> None:
        if self._rate is None:
            self._tokens = float(self._burst)  # unlimited: the bucket stays full
        else:
            elapsed = max(0.0, now - self._last_refill)
            self._tokens = min(self._capacity(), self._tokens + elapsed * self._rate)
        self._last_refill = now

    def _set_rate(self, rate: float | None, now: float) -> None:
        # Refill at the old rate first: time already passed must not count at the new rate.
        self._refill(now)
        old = self._rate
        self._rate = rate
        self._tokens = min(self._tokens, self._capacity())
        if self._wakeup is not None and (rate is None or (old is not None and rate > old)):
            self._wakeup.cancel()  # the head waiter recomputes its wait at the faster rate

    def _take_token_nowait(self) -> bool:
        """Take a token without waiting when nobody is queued and one is there."""
        if self._lock.locked():
            return False  # others are waiting: first come, first served
        self._refill(self._clock())
        if self._rate is None:
            return True
        if self._tokens >= 1 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    async def _take_token(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._refill(now)
                if self._rate is None:
                    return
                # Float time is coarse at large clock values: a shortfall of 1e-13 tokens could
                # mean a sleep too short to move the clock, so near enough counts as a token.
                if self._tokens >= 1 - _EPSILON:
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                delay = (1 - self._tokens) / self._rate
                with anyio.CancelScope() as scope:
                    self._wakeup = scope
                    try:
                        await self._sleep(delay)
                    finally:
                        self._wakeup = None

    def _record_send(self, now: float) -> None:
        window = math.floor(now / _WINDOW) * _WINDOW
        if self._window_start is None:
            self._window_start = window
        elif window > self._window_start:
            # Close the elapsed window(s) before counting this send in the new one.
            current = self._window_count / (window - self._window_start)
            previous = current if self._measured is None else self._measured
            self._measured = current * _SMOOTHING + previous * (1 - _SMOOTHING)
            self._window_start = window
            self._window_count = 0
        self._window_count += 1
