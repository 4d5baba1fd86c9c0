"""The rate clock: how fast requests are actually being sent, smoothed over short windows."""

from __future__ import annotations

import math
from typing import Final

__all__ = ("RateClock",)


class RateClock:
    """Measures the send rate over fixed windows, smoothed so one busy instant does not set it.

    A throttle cuts the rate from what was really being sent (botocore's measured rate), not
    from the bucket's ceiling, which an idle client never reaches.

    Args:
        window: seconds per measuring window.
        smoothing: weight of the newest window against the running value (0..1].
    """

    def __init__(self, window: float = 0.5, smoothing: float = 0.8) -> None:
        if window <= 0 or not 0 < smoothing <= 1:
            raise ValueError(
                f"need window > 0 and 0 < smoothing <= 1, not {window!r}, {smoothing!r}"
            )
        self._window: Final = window
        self._smoothing: Final = smoothing
        self._start: float | None = None  # the first window opens at the first send
        self._count = 0
        self._measured: float | None = None

    def record(self, now: float) -> None:
        """Count one send at ``now``."""
        window = math.floor(now / self._window) * self._window
        if self._start is None:
            self._start = window
        elif window > self._start:
            # Close the elapsed window(s) before counting this send in the new one.
            current = self._count / (window - self._start)
            previous = current if self._measured is None else self._measured
            self._measured = current * self._smoothing + previous * (1 - self._smoothing)
            self._start = window
            self._count = 0
        self._count += 1

    def rate(self, now: float) -> float:
        """The smoothed send rate in requests per second (0 before the first send)."""
        if self._measured is not None:
            return self._measured
        if self._start is None:
            return 0.0
        # No window has closed yet: estimate from the open one, never over less than a window,
        # so three requests in a millisecond don't read as thousands per second.
        return self._count / max(now - self._start, self._window)
