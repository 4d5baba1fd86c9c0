"""The in-process adaptive rate limiter: a token bucket, a rate clock and CUBIC, composed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

import anyio

from .._checks import check_bool, check_int, check_seconds
from .._errors import RequestValidationError
from ._bucket import TokenBucket
from ._cubic import CubicCalculator
from ._rate_clock import RateClock

__all__ = ("AdaptiveRateLimiter",)


class _Unset:
    """Marks an ``update()`` argument that was not passed (``None`` means "unlimited")."""


_UNSET: Final = _Unset()


class AdaptiveRateLimiter:
    """Paces requests to a rate, caps requests in flight, and backs off when throttled.

    One limiter is shared by every coroutine talking to one host; it satisfies
    :class:`RateLimiter`. Each request runs inside ``async with limiter.slot():``, which waits
    for an in-flight slot, then for a token (and for any pause a server asked for). The session
    reports each answer: ``record_throttle()`` for a 429, which cuts the rate to 0.7x the
    measured send rate; ``record_success()`` otherwise, which lets the rate climb back along a
    cubic curve towards (and past) the rate at which the throttle came, capped at the
    configured ``rate``; ``pause_for(seconds)`` for a ``Retry-After``, which holds back every
    new slot until then.

    The parts are :class:`TokenBucket` (tokens), :class:`RateClock` (the measured send rate)
    and :class:`CubicCalculator` (the cut and the recovery), each tested alone.

    Args:
        rate: tokens per second, or ``None`` for no pacing until the first throttle.
        burst: bucket capacity: how many requests may go at once after a quiet spell.
        max_in_flight: most requests inside ``slot()`` at a time; ``None`` for no cap.
        min_rate: throttles never cut the rate below this (tokens per second).
        adaptive: when false, throttles are only counted and the rate never changes.
        clock: monotonic time source in seconds; tests pass a fake one.
        sleep: awaited to wait for a token; tests pass one that advances the fake clock.

    Raises:
        RequestValidationError: (a ``ValueError``) if a rate, ``burst``, ``max_in_flight`` or
            ``min_rate`` is not a positive finite number (an int for the counts).

    Example::

        limiter = AdaptiveRateLimiter(rate=20, burst=5, max_in_flight=8)
        async with limiter.slot():
            status = await send()
        if status == 429:
            await limiter.record_throttle()
        else:
            await limiter.record_success()
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
        check_seconds("min_rate", min_rate, positive=True)
        # A truthy string (adaptive="no") would be obeyed as True; a clock that is not
        # callable failed with a TypeError, a sleep only at the first wait.
        check_bool("adaptive", adaptive)
        for name, hook in (("clock", clock), ("sleep", sleep)):
            if not callable(hook):
                raise RequestValidationError(
                    f"must be callable, got {type(hook).__name__}", field=name
                )
        self._clock = clock
        self._sleep = sleep
        self._adaptive = adaptive
        self._min_rate_setting = min_rate
        self._lock = anyio.Lock()  # FIFO hand-off: token waiters are served in arrival order
        self._wakeup: anyio.CancelScope | None = None  # the head waiter's sleep
        self._in_flight = 0
        self._throttle_count = 0
        self._paused_until = 0.0
        self._slots: anyio.CapacityLimiter | None = None
        self._configured: float | None = None
        self._burst = 1
        self._throttled = False
        now = clock()
        self._bucket = TokenBucket(None, 1, now)
        self._meter = RateClock()
        self._cubic = CubicCalculator()
        self.update(rate=rate, burst=burst, max_in_flight=max_in_flight)

    # -- read-only state ---------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Current fill rate in tokens per second, or ``None`` while unlimited."""
        return self._bucket.rate

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
        return self._meter.rate(self._clock())

    @property
    def paused_until(self) -> float:
        """The clock time before which no slot is granted (a server's ``Retry-After``)."""
        return self._paused_until

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
            self._meter.record(self._clock())
            self._in_flight += 1
            try:
                yield
            finally:
                self._in_flight -= 1
        finally:
            if slots is not None:
                slots.release_on_behalf_of(borrower)

    async def record_throttle(self) -> None:
        """Report a throttled answer: cut the rate to 0.7x what was being sent (CUBIC)."""
        self._throttle_count += 1
        if not self._adaptive:
            return
        now = self._clock()
        measured = self._meter.rate(now)
        rate = self._bucket.rate
        # Sending slower than the bucket allows: the measured rate is what hit the limit.
        base = rate if rate is not None and measured <= 0 else min(measured, rate or measured)
        floor = self._min_rate
        self._throttled = True
        self._set_rate(max(self._cubic.throttled(max(base, floor), now), floor), now)

    async def record_success(self) -> None:
        """Report a good answer: after a throttle, let the rate climb back along the cubic."""
        if not (self._adaptive and self._throttled):
            return
        now = self._clock()
        new = self._cubic.rate_at(now)
        if self._configured is not None and new >= self._configured:
            self._throttled = False
            new = self._configured
        self._set_rate(max(new, self._min_rate), now)

    async def pause_for(self, seconds: float) -> None:
        """Grant no new slot for ``seconds`` from now (a server's ``Retry-After``).

        A pause only ever lengthens: a shorter one inside a longer one changes nothing.
        """
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def aclose(self) -> None:
        """Nothing to release: the limiter holds no connection or task. Present for the protocol."""

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
            RequestValidationError: (a ``ValueError``) if a value is not positive and finite.
        """
        now = self._clock()
        if not isinstance(burst, _Unset):
            check_int("burst", burst, minimum=1)
            self._burst = burst
            self._bucket.reshape(self._bucket.rate, self._capacity(self._bucket.rate), now)
        if not isinstance(max_in_flight, _Unset):
            if max_in_flight is None:
                self._slots = None
            elif self._slots is None:
                self._slots = anyio.CapacityLimiter(
                    check_int("max_in_flight", max_in_flight, minimum=1)
                )
            else:
                self._slots.total_tokens = check_int("max_in_flight", max_in_flight, minimum=1)
        if not isinstance(rate, _Unset):
            # NaN would pass a "<= 0" test and then stall every waiter; infinity overflows.
            check_seconds("rate", rate, positive=True, optional=True)
            self._configured = rate
            self._throttled = False
            self._cubic.reset()
            self._set_rate(rate, now)

    # -- internals -------------------------------------------------------------------------

    def _capacity(self, rate: float | None) -> float:
        # While throttled, hold at most one second's worth of tokens (at least one), so a
        # cut rate is not undone by a full burst.
        if self._throttled and rate is not None:
            return min(self._burst, max(1.0, rate))
        return self._burst

    def _set_rate(self, rate: float | None, now: float) -> None:
        old = self._bucket.rate
        self._bucket.reshape(rate, self._capacity(rate), now)
        if self._wakeup is not None and (rate is None or (old is not None and rate > old)):
            self._wakeup.cancel()  # the head waiter recomputes its wait at the faster rate

    def _take_token_nowait(self) -> bool:
        """Take a token without waiting when nobody is queued, no pause holds and one is there."""
        if self._lock.locked():
            return False  # others are waiting: first come, first served
        now = self._clock()
        if now < self._paused_until:
            return False
        return self._bucket.try_take(now)

    async def _take_token(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now >= self._paused_until and self._bucket.try_take(now):
                    return
                delay = max(self._paused_until - now, self._bucket.wait_time(now))
                with anyio.CancelScope() as scope:
                    self._wakeup = scope
                    try:
                        await self._sleep(delay)
                    finally:
                        self._wakeup = None
