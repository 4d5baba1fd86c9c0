"""Retry decisions: Retry-After parsing, backoff, throttling, which statuses retry."""

from __future__ import annotations

import email.utils

import pytest

from ica_tapis_async._config import RetryPolicy
from ica_tapis_async._core._retry import (
    backoff_delay,
    is_throttle,
    parse_retry_after,
    should_retry_status,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": email.utils.formatdate(NOW + 20, usegmt=True)}, 20.0),
        ({"Retry-After": email.utils.formatdate(NOW - 20, usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """Seconds and HTTP dates both work; junk is ignored."""
    got = parse_retry_after(headers, now=NOW)
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_backoff_is_exponential_capped_with_full_jitter() -> None:
    """Delay ceilings double up to the cap; jitter scales the ceiling by a random fraction."""
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4.0)
    assert [backoff_delay(n, policy, rand=lambda: 1.0) for n in range(1, 6)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        4.0,
    ]
    assert backoff_delay(3, policy, rand=lambda: 0.25) == 0.5
    assert backoff_delay(3, RetryPolicy(jitter=False, initial_backoff=1), rand=lambda: 0) == 4.0


@pytest.mark.parametrize(
    ("status", "idempotent", "keyed", "expected"),
    [
        (503, True, False, True),
        (429, True, False, True),
        (408, True, False, True),
        (502, True, False, True),
        (504, True, False, True),
        (500, True, False, False),
        (503, False, False, False),
        (409, True, False, False),
        (409, True, True, True),
        (422, True, True, False),
        (400, True, True, False),
    ],
)
def test_should_retry_status(status: int, idempotent: bool, keyed: bool, expected: bool) -> None:
    """409 retries only for keyed requests; 422 never; unsafe requests never."""
    assert (
        should_retry_status(status, idempotent=idempotent, keyed=keyed, policy=RetryPolicy())
        is expected
    )


@pytest.mark.parametrize(("status", "expected"), [(429, True), (400, False), (503, False)])
def test_is_throttle_reads_the_status_only(status: int, expected: bool) -> None:
    """Only a 429 is throttling: a 400 or 503 mentioning a rate limit is not (issue 9)."""
    assert is_throttle(status) is expected
