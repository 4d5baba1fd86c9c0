"""Client configuration: frozen policies and the per-call options.

Per-call options beat per-client options, which beat the defaults here. A per-call option that
is not passed is absent from :class:`RequestOptions` (so ``timeout=None`` can mean "no limit");
the session resolves them in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypedDict

import attrs

from ._errors import RequestValidationError
from ._redact import redact_url

__all__ = (
    "ClientConfig",
    "RateLimitPolicy",
    "RequestOptions",
    "RetryPolicy",
    "Timeouts",
)


def _non_negative(_inst: object, attr: attrs.Attribute[float], value: float | None) -> None:
    if value is not None and value < 0:
        raise RequestValidationError(f"must be >= 0, got {value!r}", field=attr.name)


def _at_least_one(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise RequestValidationError(f"must be >= 1, got {value!r}", field=attr.name)


def _count(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestValidationError(f"must be an int >= 1, got {value!r}", field=attr.name)


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
    total_timeout: float | None = attrs.field(default=120.0, validator=_non_negative)
    initial_backoff: float = attrs.field(default=0.5, validator=_non_negative)
    max_backoff: float = attrs.field(default=20.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=300.0, validator=_non_negative)
    retry_statuses: frozenset[int] = frozenset({408, 429, 502, 503, 504})
    jitter: bool = True

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

    rate: float | None = None
    burst: int = attrs.field(default=20, validator=_at_least_one)
    max_in_flight: int | None = 64
    min_rate: float = 0.5
    adaptive: bool = True


@attrs.define(frozen=True)
class Timeouts:
    """Timeouts in seconds; ``None`` means no limit.

    Attributes:
        total: one attempt, from sending to having read the whole body.
        connect: establishing a connection (from the pool or new).
        sock_read: the longest gap between two reads of the response.
    """

    total: float | None = 60.0
    connect: float | None = 10.0
    sock_read: float | None = 30.0


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

    base_url: str = attrs.field(repr=lambda url: repr(redact_url(url)))
    timeouts: Timeouts = attrs.field(factory=Timeouts)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    rate_limit: RateLimitPolicy = attrs.field(factory=RateLimitPolicy)
    user_agent: str = "ica-tapis-async"
    #: Printed by name only: a caller may put a credential in a header of its own.
    extra_headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(), repr=lambda headers: repr(tuple(name for name, _ in headers))
    )
    max_connections: int = 100
    max_redirects: int = 5
    unreachable_after: float | None = attrs.field(default=10.0, validator=_non_negative)
    max_body_size: int = attrs.field(default=DEFAULT_MAX_BODY_SIZE, validator=_count)


class RequestOptions(TypedDict, total=False):
    """Keyword options every resource method accepts.

    Attributes:
        timeout: seconds for each attempt (``None``: no limit), or a :class:`Timeouts`.
        retry: a :class:`RetryPolicy` for this call only.
        max_retries: shorthand for ``retry`` with ``max_attempts = max_retries + 1``.
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
