"""Retry decisions: which answers to retry, how long to wait, what counts as throttling."""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from .._config import RetryPolicy

__all__ = (
    "backoff_delay",
    "is_throttle",
    "parse_retry_after",
    "pauses_client",
    "should_retry_status",
)


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` (seconds or HTTP date), or ``None``.

    ``now`` is the current POSIX time, passed in so the function stays pure.
    """
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when: datetime = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):  # a year or zone too large
            return None
        if when.tzinfo is None:
            # An HTTP-date is always GMT: the asctime form (RFC 9110 obliges a recipient to
            # read it) writes no zone at all.
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def should_retry_status(status: int, *, idempotent: bool, keyed: bool, policy: RetryPolicy) -> bool:
    """Whether an error answer deserves another attempt.

    A 409 is retried only for a keyed request: ICA's "the original is still in progress".
    A 422 on a keyed request means the key was reused with another body: never retried.
    """
    if not idempotent:
        return False
    if status == 409:
        return keyed
    return status in policy.retry_statuses


def backoff_delay(
    attempt: int, policy: RetryPolicy, *, rand: Callable[[], float] = random.random
) -> float:
    """Wait before attempt ``attempt + 1`` (``attempt`` counts from 1): capped, full jitter."""
    try:
        growth = policy.initial_backoff * 2.0 ** (attempt - 1)
    except OverflowError:  # 2.0 ** 1024 and up: a policy may allow that many attempts
        growth = math.inf if policy.initial_backoff > 0 else 0.0
    ceiling = min(policy.max_backoff, growth)
    return ceiling * rand() if policy.jitter else ceiling


def is_throttle(status: int) -> bool:
    """Whether an answer says "slow down": a 429, the only throttling answer ICA and Tapis document.

    The body is not read: an ordinary 400 whose text mentions a "rate limit" (a field name, a
    validation message) is a refused request, and cutting the rate or retrying it as a throttle
    would hide the error. A plain 503 is an outage, not a request to slow down.
    """
    return status == 429


def pauses_client(status: int) -> bool:
    """Whether an answer's ``Retry-After`` holds back every caller of the client.

    Only a throttle (429) or an unavailable server (503) speaks for the whole client; a
    ``Retry-After`` on any other status (a 400, a 500) pauses nothing and is not waited for.
    """
    return status in (429, 503)
