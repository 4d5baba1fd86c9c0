"""The token bucket: a fill rate, a capacity, and the tokens in it. Pure: time is passed in."""

from __future__ import annotations

from typing import Final

__all__ = ("TokenBucket",)

# Float time is coarse at large clock values: a shortfall of 1e-13 tokens could mean a sleep
# too short to move the clock, so near enough counts as a token.
_EPSILON: Final = 1e-6


class TokenBucket:
    """Tokens accrue at ``rate`` per second up to ``capacity``; each request takes one.

    ``rate=None`` means unlimited: the bucket is always full. Every method takes the current
    time, so the bucket never reads a clock and is tested with plain numbers.

    Args:
        rate: tokens per second, or ``None`` for unlimited.
        capacity: the most tokens the bucket holds (a burst after a quiet spell).
        now: the current time in seconds; the bucket starts empty.
    """

    def __init__(self, rate: float | None, capacity: float, now: float) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = 0.0
        self._last = now

    @property
    def rate(self) -> float | None:
        """Tokens per second, or ``None`` for unlimited."""
        return self._rate

    @property
    def capacity(self) -> float:
        """The most tokens the bucket holds."""
        return self._capacity

    def tokens(self, now: float) -> float:
        """Tokens available at ``now``."""
        self._refill(now)
        return self._tokens

    def _refill(self, now: float) -> None:
        if self._rate is None:
            self._tokens = self._capacity
        else:
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._last = now

    def reshape(self, rate: float | None, capacity: float, now: float) -> None:
        """Change the rate and capacity from ``now`` on.

        Time already passed is credited at the old rate first (as botocore's bucket does), so
        a rate change never re-prices the past; tokens over the new capacity are dropped.
        """
        self._refill(now)
        self._rate = rate
        self._capacity = capacity
        self._tokens = min(self._tokens, capacity)

    def try_take(self, now: float) -> bool:
        """Take one token if there is one at ``now``."""
        self._refill(now)
        if self._rate is None:
            return True
        if self._tokens >= 1 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1)
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until a token is there (0 when one is)."""
        self._refill(now)
        if self._rate is None or self._tokens >= 1 - _EPSILON:
            return 0.0
        return (1 - self._tokens) / self._rate
