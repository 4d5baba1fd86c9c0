"""Structured-concurrency helpers: rate limiting, bounded fan-out, polling. No HTTP knowledge."""

from ._fanout import fan_out, gather_bounded
from ._poll import Backoff, PollState, wait_for
from ._ratelimit import AdaptiveRateLimiter

__all__ = (
    "AdaptiveRateLimiter",
    "Backoff",
    "PollState",
    "fan_out",
    "gather_bounded",
    "wait_for",
)
