"""The CUBIC calculator: how far to cut the rate on a throttle, and how it climbs back."""

from __future__ import annotations

__all__ = ("CubicCalculator",)


class CubicCalculator:
    """CUBIC congestion control over request rates, with botocore's constants.

    On a throttle the rate drops to ``beta`` times the rate that was throttled (``w_max``);
    afterwards it follows ``scale * (t - k)**3 + w_max``: a quick climb, a plateau near
    ``w_max`` after ``k`` seconds, then a probe past it. Pure: time is passed in.

    Args:
        beta: multiplicative decrease on a throttle (0..1).
        scale: how steeply the rate climbs back.
    """

    def __init__(self, beta: float = 0.7, scale: float = 0.4) -> None:
        if not 0 < beta < 1 or scale <= 0:
            raise ValueError(f"need 0 < beta < 1 and scale > 0, not {beta!r}, {scale!r}")
        self.beta = beta
        self.scale = scale
        self._w_max = 0.0
        self._k = 0.0
        self._last_throttle = 0.0

    @property
    def w_max(self) -> float:
        """The rate at the last throttle."""
        return self._w_max

    def throttled(self, rate: float, now: float) -> float:
        """Record a throttle of ``rate`` at ``now``; return the cut rate (``beta * rate``)."""
        self._w_max = rate
        self._k = (rate * (1 - self.beta) / self.scale) ** (1 / 3)
        self._last_throttle = now
        return rate * self.beta

    def rate_at(self, now: float) -> float:
        """The rate the curve allows at ``now`` (it only rises with time)."""
        return self.scale * (now - self._last_throttle - self._k) ** 3 + self._w_max

    def reset(self) -> None:
        """Forget the last throttle."""
        self._w_max = self._k = self._last_throttle = 0.0
