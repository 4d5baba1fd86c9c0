"""The exception tree of ``ica_tapis_async``.

Every failure a public method can raise is one of these; no aiohttp or asyncio exception escapes::

    IcaTapisError
    ├── APIError
    │   ├── APIStatusError                   the server answered with an error status
    │   │   ├── BadRequestError              400
    │   │   ├── AuthenticationError          401
    │   │   ├── PermissionDeniedError        403
    │   │   ├── NotFoundError                404
    │   │   ├── ConflictError                409
    │   │   │   └── IdempotencyInProgressError   409 for a request sent with an Idempotency-Key
    │   │   ├── UnprocessableEntityError     422
    │   │   │   └── IdempotencyConflictError     422: the Idempotency-Key was used with another body
    │   │   ├── RateLimitError               429
    │   │   └── ServerError                  5xx
    │   ├── APIConnectionError               no usable answer: refused, reset, DNS, dropped
    │   │   ├── APITimeoutError
    │   │   └── ServerUnreachableError       no connection at all since the client started
    │   └── ResponseValidationError          the answer does not fit the model
    ├── RequestValidationError               bad input, refused before anything is sent
    ├── PaginationError                      the server repeated a page (token or offset)
    └── WaiterError                          a poller gave up
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._redact import redact_url

if TYPE_CHECKING:
    from .models import Problem

__all__ = (
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "IcaTapisError",
    "IdempotencyConflictError",
    "IdempotencyInProgressError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseValidationError",
    "ServerError",
    "ServerUnreachableError",
    "UnprocessableEntityError",
    "WaiterError",
    "make_status_error",
)


class IcaTapisError(Exception):
    """Base class of every exception raised by this library."""


class RequestValidationError(IcaTapisError, ValueError):
    """The caller's input is invalid; nothing was sent.

    Attributes:
        field: dotted path of the offending field or argument, when one is to blame.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class APIError(IcaTapisError):
    """A request failed.

    Attributes:
        method: HTTP method of the request.
        url: URL of the request, without credentials (query strings never carry secrets here).
    """

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        if "@" in url or "password" in url.lower():
            # A base URL may carry user info (a proxy's credentials): never in error text.
            safe = redact_url(url)
            message, url = message.replace(url, safe), safe
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url

    def __reduce__(self) -> Any:
        # Subclasses take keyword arguments: rebuild from the state, not from ``args``.
        return (_rebuild_error, (type(self), self.message, self.__dict__))


class APIStatusError(APIError):
    """The server answered with an HTTP error status.

    Attributes:
        status: the HTTP status code (for Tapis, not the envelope's ``status`` string).
        headers: response headers (``Set-Cookie`` removed).
        body: the decoded JSON body, the raw text, or ``None`` when empty.
        problem: the parsed ICA ``application/problem+json`` body, if there was one.
        request_id: the server's request id header, if any.
        idempotency_key: the ``Idempotency-Key`` the request carried, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        problem: Problem | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status = status
        self.headers = dict(headers or {})
        self.body = body
        self.problem = problem
        self.idempotency_key = idempotency_key
        self.request_id = next(
            (v for k, v in self.headers.items() if k.lower() in _REQUEST_ID_HEADERS), None
        )


_REQUEST_ID_HEADERS = frozenset({"x-request-id", "x-correlation-id", "request-id"})


def _rebuild_error(cls: type[APIError], message: str, state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequestError(APIStatusError):
    """HTTP 400: the server refused the request as malformed."""


class AuthenticationError(APIStatusError):
    """HTTP 401: missing, invalid or expired credentials."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the credentials may not do this."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such resource."""


class ConflictError(APIStatusError):
    """HTTP 409: the request conflicts with the resource's state."""


class IdempotencyInProgressError(ConflictError):
    """HTTP 409 for a request with an ``Idempotency-Key``: the first request is still running.

    Retried automatically (with the same key) until the retry policy gives up.
    """


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: the request is well formed but cannot be processed."""


class IdempotencyConflictError(UnprocessableEntityError):
    """HTTP 422 for a request with an ``Idempotency-Key``: the key was used with another body.

    Never retried: sending the new body needs a new key, a decision only the caller can make.
    """


class RateLimitError(APIStatusError):
    """HTTP 429: the server is throttling this client.

    Attributes:
        retry_after: seconds the server asked us to wait, if it said.
    """

    retry_after: float | None = None


class ServerError(APIStatusError):
    """HTTP 5xx: the server failed."""


class APIConnectionError(APIError):
    """No usable answer arrived: connection refused or reset, DNS failure, dropped connection,
    or a body that could not be read or decoded.

    Attributes:
        connect_failed: no connection to the server could be made at all (refused, DNS,
            connect timeout), as opposed to one lost after it was made.
    """

    def __init__(
        self, message: str, *, method: str = "", url: str = "", connect_failed: bool = False
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.connect_failed = connect_failed


class APITimeoutError(APIConnectionError):
    """The request did not complete within its timeout."""


class ServerUnreachableError(APIConnectionError):
    """Every attempt since the client started failed to connect for longer than
    ``ClientConfig.unreachable_after`` seconds: the server is down or the URL is wrong.

    Raised at once by every later call of the client (and its copies) without sending, so a
    large run stops with one clear error instead of retrying each request.

    Attributes:
        base_url: the server that could not be reached.
    """

    def __init__(self, message: str, *, base_url: str, method: str = "", url: str = "") -> None:
        safe = redact_url(base_url)
        super().__init__(
            message.replace(base_url, safe), method=method, url=url, connect_failed=True
        )
        self.base_url = safe


class ResponseValidationError(APIError):
    """The response does not match the model it should structure into.

    Attributes:
        path: where in the payload the problem is, e.g. ``items[3].processing.status``.
        model: name of the model being built.
    """

    def __init__(
        self, message: str, *, path: str = "", model: str = "", method: str = "", url: str = ""
    ) -> None:
        text = f"{model}: {path}: {message}" if path else f"{model}: {message}"
        super().__init__(text, method=method, url=url)
        self.path = path
        self.model = model


class PaginationError(IcaTapisError):
    """Paging stopped to avoid a loop: the server repeated a next-page token, or answered an
    offset page with the same items as the page before (it ignores the offset)."""


class WaiterError(IcaTapisError):
    """A waiter gave up before reaching a final state.

    Attributes:
        name: what was being waited for.
        reason: why it stopped (``"max attempts"``, ``"deadline"``, ``"failure"``).
        last_response: the last value fetched, so nothing learned is lost.
    """

    def __init__(self, name: str, reason: str, last_response: Any = None) -> None:
        super().__init__(f"waiter {name!r} stopped: {reason}")
        self.name = name
        self.reason = reason
        self.last_response = last_response


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int, *, idempotency_key: str | None = None) -> type[APIStatusError]:
    """Return the exception class for an HTTP error ``status``."""
    if idempotency_key is not None:
        if status == 409:
            return IdempotencyInProgressError
        if status == 422:
            return IdempotencyConflictError
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return APIStatusError


def make_status_error(
    message: str,
    *,
    status: int,
    method: str = "",
    url: str = "",
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    problem: Problem | None = None,
    idempotency_key: str | None = None,
) -> APIStatusError:
    """Build the right :class:`APIStatusError` subclass for ``status``: the one mapping there is."""
    cls = status_error_class(status, idempotency_key=idempotency_key)
    return cls(
        message,
        status=status,
        method=method,
        url=url,
        headers=headers,
        body=body,
        problem=problem,
        idempotency_key=idempotency_key,
    )
