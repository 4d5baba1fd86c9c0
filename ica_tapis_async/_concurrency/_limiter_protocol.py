"""The limiter protocol: what a client's session needs from a rate limiter, in-process or shared."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol, runtime_checkable

__all__ = ("RateLimiter",)


@runtime_checkable
class RateLimiter(Protocol):
    """Paces the requests of one client (or of many processes sharing one budget).

    The session sends every attempt inside ``async with limiter.slot():`` and then reports the
    answer: ``record_success()`` for an answer that was not throttled, ``record_throttle()`` for a
    429 or a documented throttling answer, and ``pause_for(seconds)`` when the server named a
    ``Retry-After``, so that every caller of this limiter (not only the one that was told) waits.

    :class:`AdaptiveRateLimiter` keeps the budget in this process; a shared implementation (for
    example one kept in Redis) keeps it for every process that uses the same name.
    """

    @property
    def rate(self) -> float | None:
        """The rate requests are paced at now (per second), or ``None`` when unpaced."""

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait for an in-flight slot and a token; hold the slot while the request runs."""

    async def record_success(self) -> None:
        """Report an answer that was not throttled (lets a cut rate recover)."""

    async def record_throttle(self) -> None:
        """Report a throttled answer (cuts the rate once per congestion event)."""

    async def pause_for(self, seconds: float) -> None:
        """Hold back every new slot for ``seconds`` from now (a server's ``Retry-After``)."""

    async def aclose(self) -> None:
        """Release what the limiter holds (connections, background tasks); idempotent."""
