"""Structured-concurrency helpers: rate limiting, bounded fan-out, polling. No HTTP knowledge."""

from ._bucket import TokenBucket
from ._cubic import CubicCalculator
from ._fanout import fan_out, gather_bounded
from ._groups import representative, single_failure
from ._limiter_protocol import RateLimiter
from ._poll import Backoff, PollState, poll_until
from ._rate_clock import RateClock
from ._ratelimit import AdaptiveRateLimiter

__all__ = (
    "AdaptiveRateLimiter",
    "Backoff",
    "CubicCalculator",
    "PollState",
    "RateClock",
    "RateLimiter",
    "TokenBucket",
    "fan_out",
    "gather_bounded",
    "poll_until",
    "representative",
    "single_failure",
)
