"""The checks on :class:`RedisRateLimiter`'s arguments: each bad one refused by name."""

from __future__ import annotations

import math

from .._redact import ambiguous_user_info, redact_url

__all__ = ("validate_arguments",)


def validate_arguments(
    url: str,
    name: str,
    rate: float | None,
    burst: int,
    max_in_flight: int | None,
    min_rate: float,
    lease_ttl: float,
    fallback_share: float,
    retry_unavailable_s: float,
    timeout: float,
) -> None:
    """Raise ``ValueError`` naming the first bad argument (a password in ``url`` hidden)."""
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"url must be a redis://, rediss:// or unix:// URL, not {redact_url(url)!r}"
        )
    ambiguous = ambiguous_user_info(url)
    if ambiguous is not None:
        raise ValueError(f"url {redact_url(url)!r}: {ambiguous}")
    if not name or len(name) > 200 or not name.isprintable():
        raise ValueError(f"name must be 1-200 printable characters, not {name!r}")
    if rate is not None and not _finite_positive(rate):
        raise ValueError(f"rate must be a finite number > 0 or None, not {rate!r}")
    if not _count(burst):
        raise ValueError(f"burst must be a whole number >= 1, not {burst!r}")
    if max_in_flight is not None and not _count(max_in_flight):
        raise ValueError(
            f"max_in_flight must be a whole number >= 1 or None, not {max_in_flight!r}"
        )
    for name_, value in (
        ("min_rate", min_rate),
        ("lease_ttl", lease_ttl),
        ("retry_unavailable_s", retry_unavailable_s),
        ("timeout", timeout),
    ):
        if not _finite_positive(value):
            raise ValueError(f"{name_} must be a finite number > 0, not {value!r}")
    if not (_finite_positive(fallback_share) and fallback_share <= 1):
        raise ValueError(f"fallback_share must be in (0, 1], not {fallback_share!r}")


def _finite_positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _count(value: object) -> bool:
    # A float count (nan, inf, 2.5) would fail later with an error that names nothing.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
