"""The transport seam: one request out, one answer back, and its aiohttp implementation.

A :class:`Transport` sends one HTTP exchange and returns a :class:`RawResponse` (status, headers,
body). Everything else (credentials, redirects, retries, pacing) is the dispatcher's job, so a
transport is small: :class:`AiohttpTransport` below, or a fake one in tests.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import aiohttp
import anyio
import attrs
from yarl import URL

from ._checks import check_int
from ._config import DEFAULT_MAX_BODY_SIZE, Timeouts
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    IcaTapisError,
    RequestValidationError,
    ResponseValidationError,
)

__all__ = ("AiohttpTransport", "RawResponse", "Transport", "body_too_large")


@attrs.define(frozen=True)
class RawResponse:
    """An answer as received: status, headers (last value per name), body bytes, URL asked."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, or ``""``."""
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")


@runtime_checkable
class Transport(Protocol):
    """Sends one HTTP request and returns the answer, whatever its status.

    Implementations do not follow redirects, retry or add credentials; they turn every failure
    to get an answer into :class:`APIConnectionError` (``connect_failed=True`` when no
    connection could be made) or :class:`APITimeoutError`. The dispatcher holds every transport
    to ``ClientConfig.max_body_size`` (a success body over it refused, an error body cut); one
    that streams should stop reading there itself (:func:`body_too_large` builds the error).
    """

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> RawResponse:
        """Send one request; return the answer (any status).

        Raises:
            APITimeoutError: the attempt ran out of time.
            APIConnectionError: no answer could be had or read.
        """

    async def aclose(self) -> None:
        """Release the connections this transport owns; idempotent."""


@functools.lru_cache(maxsize=64)
def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.sock_read
    )


class AiohttpTransport:
    """A :class:`Transport` over one pooled :class:`aiohttp.ClientSession`.

    Args:
        session: a caller's aiohttp session to borrow; it is never closed here.
        max_connections: pool size of the aiohttp session this transport creates.
        max_body_size: the most bytes of a body (as declared, and once decompressed) read;
            a larger success answer raises :class:`ResponseValidationError` without reading
            the rest; an error answer is cut there.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_connections: int = 100,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise RequestValidationError(
                f"must be an aiohttp.ClientSession, got {type(session).__name__}", field="session"
            )
        self._session = session
        self._owns_session = session is None
        # aiohttp reads 0 as "no limit" and a negative pool size hangs every request.
        self._max_connections = check_int("max_connections", max_connections, minimum=1)
        self._closed = False
        self._max_body_size = check_int("max_body_size", max_body_size, minimum=1)
        self._in_flight: set[anyio.CancelScope] = set()  # requests under way, for aclose()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            # A session made now would be one nobody closes.
            raise RequestValidationError("the client is closed; make a new one", field="client")
        if self._session is not None and not self._owns_session and self._session.closed:
            raise RequestValidationError(
                "the aiohttp session lent to the client was closed by its owner", field="session"
            )
        if self._session is None or (self._owns_session and self._session.closed):
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=30, ttl_dns_cache=300
            )
            # auto_decompress: gzip/deflate answers are decoded, and aiohttp sends
            # Accept-Encoding itself, which ICA requires before it compresses.
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
            )
        _no_hidden_retry(self._session)
        return self._session

    @property
    def closed(self) -> bool:
        """Whether the aiohttp session this transport created has been closed."""
        return self._session is not None and self._session.closed

    async def aclose(self) -> None:
        """Close the aiohttp session if this transport created it; a borrowed one stays open.
        A transport that made its own session sends nothing after this."""
        self._closed = self._owns_session
        if self._owns_session:
            for scope in self._in_flight:
                scope.cancel()
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> RawResponse:
        """Send one request without following redirects.

        Raises:
            APITimeoutError: the attempt ran out of time.
            APIConnectionError: no answer could be had or read, or :meth:`aclose` came first.
        """
        # aclose() cancels what is in flight: aiohttp drops the connections of a session it
        # closes but leaves a body being read waiting (until the total timeout, or forever).
        with anyio.CancelScope() as scope:
            self._in_flight.add(scope)
            try:
                return await self._send(method, url, headers, body, timeouts)
            finally:
                self._in_flight.discard(scope)
        raise APIConnectionError(
            f"{method} {url}: the client was closed before the answer was read",
            method=method,
            url=url,
        )

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> RawResponse:
        try:
            target = URL(url, encoded=True)
        except ValueError as exc:  # a bad port, a broken IPv6 host, a backslash: yarl refuses
            raise APIConnectionError(
                f"{method} {url}: not a URL that can be sent: {exc}", method=method, url=url
            ) from exc
        try:
            async with self._get_session().request(
                method,
                target,
                headers=headers,
                data=body,
                allow_redirects=False,
                # A borrowed session may raise for error statuses: the dispatcher types them.
                raise_for_status=False,
                timeout=_client_timeout(timeouts),
            ) as resp:
                payload = await self._read(resp, method, url)
                return RawResponse(
                    status=resp.status,
                    reason=resp.reason or "",
                    headers=dict(resp.headers.items()),
                    body=payload,
                    url=url,
                )
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"{method} {url}: timed out connecting", method=method, url=url, connect_failed=True
            ) from exc
        except TimeoutError as exc:
            raise APITimeoutError(f"{method} {url}: timed out", method=method, url=url) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"{method} {url}: {_describe(exc)}", method=method, url=url, connect_failed=True
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(
                f"{method} {url}: {_describe(exc)}", method=method, url=url
            ) from exc
        except IcaTapisError:
            raise  # the library's own refusals (a RequestValidationError is a ValueError too)
        except ValueError as exc:  # yarl checks some parts (the port) only when aiohttp asks
            raise APIConnectionError(
                f"{method} {url}: not a URL that can be sent: {exc}", method=method, url=url
            ) from exc

    async def _read(self, resp: aiohttp.ClientResponse, method: str, url: str) -> bytes:
        """The body, read until its end or until it passes the cap.

        A success answer over the cap is refused; an error answer keeps its status and its
        first ``max_body_size`` bytes (its status says more than its size). Either way the
        rest is left unread and the connection dropped.
        """
        limit = self._max_body_size
        success = resp.status < 300
        declared = resp.content_length  # of the body as sent, compressed or not
        if success and declared is not None and declared > limit:
            resp.close()  # the connection carries the unread rest: never reuse it
            raise body_too_large(method, url, limit)
        if declared is not None and declared <= limit and not resp.headers.get("Content-Encoding"):
            return await resp.read()  # the common case: a known length within the cap
        chunks: list[bytes] = []
        size = 0
        # Chunks come decompressed, a bounded amount at a time: a compression bomb stops here.
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                resp.close()
                if success:
                    raise body_too_large(method, url, limit)
                chunks.append(chunk[: len(chunk) - (size - limit)])
                break
            chunks.append(chunk)
        return b"".join(chunks)


def body_too_large(method: str, url: str, limit: int) -> ResponseValidationError:
    """The error for an answer whose body passes ``max_body_size``."""
    return ResponseValidationError(
        f"the answer to {method} {url} is larger than max_body_size ({limit} bytes); "
        "the rest was not read",
        model="(body)",
        method=method,
        url=url,
    )


def _no_hidden_retry(session: aiohttp.ClientSession) -> None:
    """Turn off aiohttp's own resend of an idempotent request whose pooled connection dropped.

    That resend is an attempt the retry policy neither counts nor paces: the server would see
    more attempts than ``max_attempts`` and ``metrics.requests`` say. Without it the drop is
    an :class:`APIConnectionError`, retried (or not) by the one retry loop. aiohttp offers no
    public switch; its own test client clears the same attribute. A borrowed session gets it
    too: every request sent through this transport is one attempt.
    """
    if getattr(session, "_retry_connection", False):
        session._retry_connection = False


def _describe(exc: BaseException) -> str:
    # Some aiohttp exceptions cannot render themselves when half-built; never let that mask
    # the failure we are reporting.
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
