"""Client configuration: frozen policies and the per-call options.

Per-call options beat per-client options, which beat the defaults here. A per-call option that
is not passed is absent from :class:`RequestOptions` (so ``timeout=None`` can mean "no limit");
the session resolves them in one place.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

import attrs

from ._checks import (
    check_base_url,
    check_bool,
    check_header_value,
    check_headers,
    check_int,
    check_seconds,
    has_user_info,
)
from ._errors import RequestValidationError
from ._redact import redact_url

__all__ = (
    "ClientConfig",
    "RateLimitPolicy",
    "RequestOptions",
    "RetryPolicy",
    "Timeouts",
)


# attrs validators: each names the field as the caller wrote it in the constructor call.


def _seconds(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    check_seconds(attr.name, value)


def _optional_seconds(_inst: object, attr: attrs.Attribute[Any], value: float | None) -> None:
    check_seconds(attr.name, value, optional=True)


def _optional_positive_seconds(
    _inst: object, attr: attrs.Attribute[Any], value: float | None
) -> None:
    # 0 would mean "no limit at all" to aiohttp, the opposite of what it says.
    check_seconds(attr.name, value, positive=True, optional=True)


def _positive_rate(_inst: object, attr: attrs.Attribute[Any], value: float | None) -> None:
    check_seconds(attr.name, value, positive=True, optional=attr.name == "rate")


def _at_least_one(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    check_int(attr.name, value, minimum=1)


def _optional_at_least_one(_inst: object, attr: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None:
        check_int(attr.name, value, minimum=1)


def _at_least_zero(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    check_int(attr.name, value, minimum=0)


def _flag(_inst: object, attr: attrs.Attribute[bool], value: bool) -> None:
    check_bool(attr.name, value)


def _status_set(value: Any) -> Any:
    """A set, list or tuple of statuses as a frozenset (the policy stays hashable); anything
    else is left for the validator to refuse by name."""
    if isinstance(value, set | list | tuple):
        try:
            return frozenset(value)
        except TypeError:  # an unhashable member ([[503]]): the validator names the field
            return value
    return value


def _statuses(_inst: object, attr: attrs.Attribute[Any], value: frozenset[int]) -> None:
    if not isinstance(value, frozenset) or not all(
        isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in value
    ):
        raise RequestValidationError(
            f"must be a frozenset of HTTP status codes, got {value!r}", field=attr.name
        )


def _instance_of(cls: type) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, cls):
            raise RequestValidationError(
                f"must be a {cls.__name__}, got {type(value).__name__}", field=attr.name
            )

    return check


@attrs.define(frozen=True)
class RetryPolicy:
    """When and how long to retry a failed request.

    A request is tried at most ``max_attempts`` times and never after ``total_timeout`` seconds
    from its first attempt, whichever comes first. Between attempts it waits
    ``uniform(0, min(max_backoff, initial_backoff * 2**n))`` (full jitter) unless the server sent a
    ``Retry-After``, which is honoured up to ``max_retry_after`` (five minutes by default): the
    client's limiter then holds back every caller of the client for that long, not only the one
    that was told. A wait that would pass ``total_timeout`` is not waited: the error is raised.

    GET is always retryable. POST and DELETE are retried only when the request carries an
    ``Idempotency-Key`` or the call declares itself safe to repeat.

    Example::

        RetryPolicy(max_attempts=8, total_timeout=300)
        # -> RetryPolicy(max_attempts=8, total_timeout=300, ...)
        RetryPolicy.no_wait()   # for tests: retries without sleeping
    """

    max_attempts: int = attrs.field(default=5, validator=_at_least_one)
    total_timeout: float | None = attrs.field(default=120.0, validator=_optional_seconds)
    initial_backoff: float = attrs.field(default=0.5, validator=_seconds)
    max_backoff: float = attrs.field(default=20.0, validator=_seconds)
    max_retry_after: float = attrs.field(default=300.0, validator=_seconds)
    retry_statuses: frozenset[int] = attrs.field(
        default=frozenset({408, 429, 502, 503, 504}), converter=_status_set, validator=_statuses
    )
    jitter: bool = attrs.field(default=True, validator=_flag)

    @classmethod
    def no_wait(cls, max_attempts: int = 5) -> RetryPolicy:
        """A policy that retries without waiting; for tests."""
        return cls(
            max_attempts=max_attempts,
            total_timeout=None,
            initial_backoff=0.0,
            max_backoff=0.0,
            max_retry_after=0.0,
        )

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)


@attrs.define(frozen=True)
class RateLimitPolicy:
    """Client-wide pacing shared by every coroutine that uses one client.

    Attributes:
        rate: requests per second; ``None`` starts unlimited and only slows down once throttled.
        burst: how many requests may go at once after a quiet spell.
        max_in_flight: most requests outstanding at the same time.
        min_rate: the adaptive limiter never goes below this many requests per second.
        adaptive: cut the rate on 429/throttling answers and recover smoothly afterwards.
    """

    rate: float | None = attrs.field(default=None, validator=_positive_rate)
    burst: int = attrs.field(default=20, validator=_at_least_one)
    max_in_flight: int | None = attrs.field(default=64, validator=_optional_at_least_one)
    min_rate: float = attrs.field(default=0.5, validator=_positive_rate)
    adaptive: bool = attrs.field(default=True, validator=_flag)


@attrs.define(frozen=True)
class Timeouts:
    """Timeouts in seconds; ``None`` means no limit. A number must be finite and above 0
    (aiohttp would read 0 as no limit at all): anything else raises
    :class:`RequestValidationError` naming the field.

    Attributes:
        total: one attempt, from sending to having read the whole body.
        connect: establishing a connection (from the pool or new).
        sock_read: the longest gap between two reads of the response.
    """

    total: float | None = attrs.field(default=60.0, validator=_optional_positive_seconds)
    connect: float | None = attrs.field(default=10.0, validator=_optional_positive_seconds)
    sock_read: float | None = attrs.field(default=30.0, validator=_optional_positive_seconds)


#: The largest body read by default (64 MiB): ample for a page of 1,000 items.
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024


@attrs.define(frozen=True)
class ClientConfig:
    """Everything a client needs to talk to one service; shared by ``with_options`` copies.

    Attributes:
        unreachable_after: when every attempt since the client started has failed to connect
            for this many seconds, the server counts as down: that call and every later one
            raise :class:`ServerUnreachableError` at once. ``None`` retries as usual forever.
            Once any answer has arrived this never triggers.
        max_body_size: the most bytes of an answer's body read, as sent and once
            decompressed; a larger success answer raises :class:`ResponseValidationError`
            without the rest being read, an error answer is cut there.
    """

    base_url: str = attrs.field(
        repr=lambda url: repr(redact_url(url)), validator=lambda _i, _a, v: check_base_url(v)
    )
    timeouts: Timeouts = attrs.field(factory=Timeouts, validator=_instance_of(Timeouts))
    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=_instance_of(RetryPolicy))
    rate_limit: RateLimitPolicy = attrs.field(
        factory=RateLimitPolicy, validator=_instance_of(RateLimitPolicy)
    )
    user_agent: str = attrs.field(
        default="ica-tapis-async",
        validator=lambda _i, a, v: check_header_value(a.name, v),
    )
    #: Printed by name only: a caller may put a credential in a header of its own.
    extra_headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(),
        repr=lambda headers: repr(tuple(name for name, _ in headers)),
        validator=lambda _i, a, v: _check_header_pairs(a.name, v),
    )
    # aiohttp reads 0 as "no limit" and a negative pool size hangs every request.
    max_connections: int = attrs.field(default=100, validator=_at_least_one)
    max_redirects: int = attrs.field(default=5, validator=_at_least_zero)
    unreachable_after: float | None = attrs.field(default=10.0, validator=_optional_seconds)
    max_body_size: int = attrs.field(default=DEFAULT_MAX_BODY_SIZE, validator=_at_least_one)

    def __attrs_post_init__(self) -> None:
        if has_user_info(self.base_url) and any(
            name.lower() == "authorization" for name, _ in self.extra_headers
        ):
            raise RequestValidationError(
                "an Authorization header cannot go with user info in base_url "
                "(aiohttp sends that as Basic credentials)",
                field="extra_headers",
            )


def _check_header_pairs(field: str, pairs: object) -> None:
    if not isinstance(pairs, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in pairs
    ):
        raise RequestValidationError("must be a tuple of (name, value) pairs", field=field)
    check_headers(field, dict(pairs))


class RequestOptions(TypedDict, total=False):
    """Keyword options every resource method accepts; any other keyword, or a value of the
    wrong type or range, raises :class:`RequestValidationError` naming it before anything is
    sent (see :func:`resolve_options`).

    Attributes:
        timeout: seconds for each attempt (finite, above 0; ``None``: no limit), or a
            :class:`Timeouts`.
        retry: a :class:`RetryPolicy` for this call only.
        max_retries: shorthand for ``retry`` with ``max_attempts = max_retries + 1`` (an int,
            at least 0).
        extra_headers: headers added to this call (cannot replace authentication).
        on_retry: called with the error before each retry of this call (e.g. to note that a
            POST whose answer was lost is being sent again).
        before_attempt: awaited before every attempt of this call, the first and each retry,
            once the limiter has granted it and right before it is sent (e.g. to check that
            this worker still holds the lease on what it is about to create, after a long
            ``Retry-After`` wait). If it raises, the call ends with that exception and that
            attempt is not sent. It runs while the attempt holds one of the limiter's
            in-flight slots, so it should be quick.
    """

    timeout: float | Timeouts | None
    retry: RetryPolicy
    max_retries: int
    extra_headers: dict[str, str]
    on_retry: Callable[[Exception], None]
    before_attempt: Callable[[], Awaitable[None]]


_OPTIONS = RequestOptions.__optional_keys__ | RequestOptions.__required_keys__


def resolve_options(
    config: ClientConfig, options: RequestOptions
) -> tuple[RetryPolicy, Timeouts, dict[str, str]]:
    """The retry policy, timeouts and extra headers of one call: per call beats per client.

    Every per-call option is checked here, before anything is sent: a misspelt keyword
    (``max_retry=0``) would otherwise be ignored without a word.

    Raises:
        RequestValidationError: an unknown option, or a value of the wrong type or range,
            named as the caller wrote it (``max_retries``, ``timeout``).
    """
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(_OPTIONS), n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(sorted(_OPTIONS))}"
        raise RequestValidationError(f"is not an option{hint}", field=unknown[0])
    policy = options.get("retry", config.retry)
    if not isinstance(policy, RetryPolicy):
        raise RequestValidationError(
            f"must be a RetryPolicy, got {type(policy).__name__}", field="retry"
        )
    if "max_retries" in options:
        retries = check_int("max_retries", options["max_retries"], minimum=0)
        policy = attrs.evolve(policy, max_attempts=retries + 1)
    timeouts = options.get("timeout", config.timeouts)
    if not isinstance(timeouts, Timeouts):
        total = check_seconds("timeout", timeouts, positive=True, optional=True)
        timeouts = attrs.evolve(config.timeouts, total=total)
    extra = dict(check_headers("extra_headers", options.get("extra_headers", {})))
    if has_user_info(config.base_url) and any(k.lower() == "authorization" for k in extra):
        raise RequestValidationError(
            "an Authorization header cannot go with user info in base_url "
            "(aiohttp sends that as Basic credentials)",
            field="extra_headers",
        )
    for hook in ("on_retry", "before_attempt"):
        if hook in options and not callable(options[hook]):
            raise RequestValidationError(
                f"must be callable, got {type(options[hook]).__name__}",
                field=hook,
            )
    return policy, timeouts, extra
