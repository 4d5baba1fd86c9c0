"""Per-credential token buckets for the simulated 429s."""

from __future__ import annotations

import math
import time

__all__ = ("RateLimiter",)


class RateLimiter:
    """Token buckets keyed by credential, refilled in real (monotonic) time.

    Real time on purpose: advancing the simulated clock in a test must not hand out tokens.
    """

    def __init__(self) -> None:
        # credential -> (tokens, last refill)
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str, rate: float, burst: int | None) -> float | None:
        """Take one token for ``key``; None when allowed, else the seconds until one is free."""
        capacity = float(burst if burst is not None else max(1, math.ceil(rate)))
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def reset(self) -> None:
        """Forget every bucket (all credentials start full again)."""
        self._buckets.clear()
