"""The Redis side of :class:`RedisRateLimiter`: its client, how it tells a Redis that is away
from one that refuses it, and how it reads what Redis returns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .._errors import IcaTapisError
from .._redact import redact_url

__all__ = (
    "SharedLimiterUnavailableError",
    "answer_errors",
    "busy",
    "float_or_none",
    "local_call",
    "open_client",
    "refusal_errors",
    "refused_by_script",
    "refused_error",
    "stats_of",
    "unavailable_error",
    "unavailable_errors",
)


class SharedLimiterUnavailableError(IcaTapisError):
    """The shared rate limiter's Redis cannot be used.

    Either it cannot be reached and the limiter was told to fail (``on_unavailable="fail"``)
    rather than fall back to a local budget, or it refuses this client whatever the policy
    (``permanent``): a wrong password, an unknown user, or an ACL that forbids the limiter's
    commands. Running on without the shared budget would quietly multiply the fleet's rate,
    so a refusal is never a fallback.

    Attributes:
        permanent: retrying cannot help (the URL, the credentials or the ACL are wrong).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled (multiprocessing, a test runner) with its flag, not just its message.
        return (_rebuild, (str(self), self.permanent))


def _rebuild(message: str, permanent: bool) -> SharedLimiterUnavailableError:
    return SharedLimiterUnavailableError(message, permanent=permanent)


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises when Redis is away (down, unreachable, too slow), or cannot keep
    the budget for now: a read-only replica (a failover left the URL on one), out of memory."""
    from redis import exceptions

    return (
        exceptions.ConnectionError,
        exceptions.TimeoutError,
        OSError,
        exceptions.ReadOnlyError,
        exceptions.OutOfMemoryError,
        # A replica cut off from its master mid-failover (MASTERDOWN), or a cluster that is
        # not serving yet: away for now, like a Redis that is down.
        exceptions.ClusterDownError,
        exceptions.TryAgainError,
    )


def refusal_errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises when Redis answers but refuses this client: checked before
    :func:`unavailable_errors`, since redis-py files authentication under connection errors."""
    from redis import exceptions

    return (
        exceptions.AuthenticationError,
        exceptions.AuthorizationError,
        exceptions.AuthenticationWrongNumberOfArgsError,
        exceptions.NoPermissionError,
    )


def answer_errors() -> tuple[type[BaseException], ...]:
    """What redis-py raises for any other error answer (checked last)."""
    from redis import exceptions

    return (exceptions.ResponseError,)


def busy(exc: BaseException) -> bool:
    """Whether ``exc`` says Redis is running another client's long script (``BUSY``): away
    until it ends, like a Redis that is down. redis-py files it as a bare ``ResponseError``."""
    return str(exc).startswith("BUSY ")


def refused_by_script(exc: BaseException) -> bool:
    """Whether ``exc`` is an ACL refusal of a command one of the limiter's scripts runs: Redis
    7.0 answers a plain ``ERR`` for it (7.2 ``NOPERM``, a :func:`refusal_errors` one), which
    redis-py files as a bare ``ResponseError``."""
    return "user executing the script can't" in str(exc)


def refused_error(name: str, url: str, exc: BaseException) -> SharedLimiterUnavailableError:
    """The error for a Redis that refuses the limiter: the server's reason, on one line (it
    names no password); ``url`` already redacted."""
    text = str(exc).strip().splitlines()
    reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return SharedLimiterUnavailableError(
        f"shared rate limit {name!r} at {url}: refused by the server ({reason}); "
        "check the password, user and ACL",
        permanent=True,
    )


def unavailable_error(name: str, url: str, exc: BaseException) -> SharedLimiterUnavailableError:
    """The error for a Redis that cannot be reached; ``url`` already redacted."""
    return SharedLimiterUnavailableError(
        f"shared rate limit {name!r} at {url} is unavailable: {type(exc).__name__}"
    )


async def local_call(method: Callable[[], object]) -> None:
    """Call one of the in-process limiter's record methods, plain or coroutine functions."""
    result = method()
    if inspect.isawaitable(result):
        await result


def float_or_none(value: bytes | str | None) -> float | None:
    """A number Redis returned (``""`` or ``None``: none)."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    return float(text) if text else None


def open_client(url: str, timeout: float, password: str | None) -> Any:
    """A redis-py asyncio client for ``url`` (it connects on first use).

    Raises:
        ImportError: the ``redis`` extra is not installed.
        ValueError: redis-py cannot read ``url`` (shown without its user info).
    """
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:
        raise ImportError(
            "RedisRateLimiter needs redis-py: pip install 'ica_tapis_async[redis]'"
        ) from exc
    from redis.exceptions import RedisError

    try:
        client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, password=password
        )
        # redis-py reads the URL's options only when it first connects: an unknown one (a
        # TypeError) or a bad TLS flag would escape the first request, untyped. Building a
        # connection (no I/O) checks them now.
        pool = client.connection_pool
        pool.connection_class(**pool.connection_kwargs)
    except (ValueError, TypeError, RedisError) as exc:
        raise ValueError(
            f"url {redact_url(url)!r} is not a valid Redis URL: {_without_user_info(exc, url)}"
        ) from None
    return client


def _without_user_info(exc: BaseException, url: str) -> str:
    """``exc``'s text with ``url``'s user info hidden: Python's URL parser quotes the whole host
    part when it refuses one (a character NFKC normalization turns into "@" or "/")."""
    text = str(exc)
    scheme_end = url.find("://")
    at = url.rfind("@")
    if scheme_end >= 0 and at > scheme_end + 3:
        user_info = url[scheme_end + 3 : at]
        for shown in {user_info, unquote(user_info)}:
            # With its "@": a short user name alone would take letters out of other words.
            text = text.replace(f"{shown}@", "***@")
    return redact_url(text)


def stats_of(state: dict[bytes, bytes], in_flight: int) -> dict[str, float | int | str | None]:
    """What :meth:`RedisRateLimiter.stats` returns, from the state hash and the live leases."""
    fields = {k.decode(): v.decode() for k, v in state.items()}
    return {
        "rate": float_or_none(fields.get("rate", "")),
        "configured": float_or_none(fields.get("configured", "")),
        "throttles": int(fields.get("throttles", 0)),
        "ceiling": float_or_none(fields.get("w_max", "")),
        "measured": float_or_none(fields.get("measured", "")),
        "paused_until": float_or_none(fields.get("paused_until", "")),
        "in_flight": int(in_flight),
    }
