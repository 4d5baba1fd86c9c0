"""The aiohttp transport: one place where bytes cross the wire.

It owns an :class:`aiohttp.ClientSession` or borrows the caller's (and then leaves it open),
follows redirects itself so credentials never travel to another origin, and turns every aiohttp and
asyncio failure into :class:`APIConnectionError` / :class:`APITimeoutError`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

import aiohttp
import attrs
from yarl import URL

from ._config import Timeouts
from ._core._request import SENSITIVE_HEADERS, same_origin
from ._errors import APIConnectionError, APITimeoutError

__all__ = ("AiohttpTransport", "RawResponse")

log = logging.getLogger("ica_tapis_async.transport")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@attrs.define(frozen=True)
class RawResponse:
    """An answer as received: status, headers (last value per name), body bytes, final URL."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    url: str

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, or ``""``."""
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")


@functools.lru_cache(maxsize=64)
def _client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.sock_read
    )


class AiohttpTransport:
    """Sends requests over one pooled aiohttp session.

    Args:
        session: a caller's session to borrow; it is never closed here.
        max_connections: pool size of the session this transport creates.
        max_redirects: redirects followed before giving up.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_connections: int = 100,
        max_redirects: int = 5,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._max_redirects = max_redirects

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=30, ttl_dns_cache=300
            )
            # auto_decompress: gzip/deflate answers are decoded, and aiohttp sends
            # Accept-Encoding itself, which ICA requires before it compresses.
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    @property
    def closed(self) -> bool:
        """Whether the session this transport created has been closed."""
        return self._session is not None and self._session.closed

    async def close(self) -> None:
        """Close the session if this transport created it; a borrowed one stays open."""
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
        """Send one request, following redirects safely.

        Raises:
            APITimeoutError: the attempt ran out of time.
            APIConnectionError: no answer could be had or read.
        """
        session = self._get_session()
        current_headers = dict(headers)
        for _ in range(self._max_redirects + 1):
            response = await self._send_once(session, method, url, current_headers, body, timeouts)
            location = response.headers.get("Location") or response.headers.get("location")
            if response.status not in _REDIRECTS or not location:
                return response
            target = str(URL(url).join(URL(location)))
            if not same_origin(url, target):
                # Never let a credential follow a redirect to another host.
                current_headers = {
                    k: v for k, v in current_headers.items() if k.lower() not in SENSITIVE_HEADERS
                }
                log.warning("redirect to another origin %s: credentials dropped", target)
            if response.status == 303 or (response.status in (301, 302) and method != "GET"):
                method, body = "GET", None
                current_headers = {
                    k: v for k, v in current_headers.items() if k.lower() != "content-type"
                }
            url = target
        raise APIConnectionError(
            f"more than {self._max_redirects} redirects", method=method, url=url
        )

    async def _send_once(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> RawResponse:
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=_client_timeout(timeouts),
            ) as resp:
                payload = await resp.read()
                return RawResponse(
                    status=resp.status,
                    reason=resp.reason or "",
                    headers=dict(resp.headers.items()),
                    body=payload,
                    url=url,
                )
        except TimeoutError as exc:
            raise APITimeoutError(f"{method} {url}: timed out", method=method, url=url) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(
                f"{method} {url}: {_describe(exc)}", method=method, url=url
            ) from exc


def _describe(exc: BaseException) -> str:
    # Some aiohttp exceptions cannot render themselves when half-built; never let that mask
    # the failure we are reporting.
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
