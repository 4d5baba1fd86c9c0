"""The simulated clock, and the timestamp formats of the two services."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ("SimClock", "ica_time", "problem_time", "tapis_time")


class SimClock:
    """Wall-clock seconds that run ``scale`` times real time and can be pushed forward.

    Everything time-dependent in the simulator (batch progression, JWT expiry, the 7-day
    idempotency store, transfers) reads this clock, so ``advance`` moves all of it at once.
    Rate limiting alone uses real time: a test must not refill a bucket by advancing the clock.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self._scale = scale
        self._base_wall = time.time()
        self._base_mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._base_wall + (time.monotonic() - self._base_mono) * self._scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` into the future (never backwards)."""
        if seconds < 0:
            raise ValueError("the simulated clock cannot go backwards")
        self._offset += seconds

    def set_scale(self, scale: float) -> None:
        """Change the speed from now on, without a jump in the current time."""
        current = self.now()
        self._base_wall = current - self._offset
        self._base_mono = time.monotonic()
        self._scale = scale


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def ica_time(ts: float) -> str:
    """ICA date-time: ISO-8601 UTC with milliseconds, e.g. 2024-05-01T10:00:00.123Z."""
    seconds, millis = divmod(int(ts * 1000), 1000)
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def problem_time(ts: float) -> str:
    """Problem timestamps as observed: whole seconds, e.g. 2024-08-23T02:33:25Z."""
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def tapis_time(ts: float) -> str:
    """Tapis timestamps: microseconds, e.g. 2021-04-22T14:21:58.933851Z."""
    seconds, micros = divmod(int(ts * 1_000_000), 1_000_000)
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.") + f"{micros:06d}Z"
