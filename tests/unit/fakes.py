"""Test doubles shared by the unit tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio.lowlevel
import attrs
import orjson
from yarl import URL

from ica_tapis_async import APIConnectionError, RawResponse, Timeouts


class FakeClock:
    """A clock that only moves when someone sleeps on it (or a test advances it).

    Call it for the time; pass ``clock.sleep`` as the injected sleep; ``sleeps`` records every
    requested delay.
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@attrs.define
class SentRequest:
    """One request a :class:`FakeTransport` received."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    at: float = 0.0  # the fake clock's time when it was sent, if the transport has a clock

    @property
    def kwargs(self) -> dict[str, Any]:
        """``headers`` and ``data``, under the names aiohttp's ``request()`` takes them."""
        return {"headers": self.headers, "data": self.body}


@attrs.define
class _Route:
    method: str
    url: str | re.Pattern[str]
    status: int
    body: bytes
    headers: dict[str, str]
    exception: BaseException | None
    repeat: bool

    def matches(self, method: str, url: str) -> bool:
        if method != self.method:
            return False
        if isinstance(self.url, re.Pattern):
            return self.url.match(url) is not None
        return _normal(self.url) == _normal(url)


def _normal(url: str) -> tuple[str, str, str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc, unquote(parts.path), sorted(parse_qsl(parts.query))


class FakeTransport:
    """A :class:`ica_tapis_async.Transport` that answers from registered responses.

    Register answers with :meth:`get`, :meth:`post` or :meth:`delete` (a URL string, whose
    query is compared in any order, or a compiled pattern); each is used once, in order, unless
    ``repeat=True``. ``exception`` raises instead of answering. A request nothing matches gets
    ``APIConnectionError``, as an unreachable server would. ``requests`` maps
    ``(method, URL)`` to what was sent there; ``sent`` lists everything in order.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self._clock = clock
        self._routes: list[_Route] = []
        self.sent: list[SentRequest] = []
        self.requests: dict[tuple[str, URL], list[SentRequest]] = {}
        self.closed = False

    def add(
        self,
        method: str,
        url: str | re.Pattern[str],
        *,
        status: int = 200,
        payload: Any = None,
        body: str | bytes = b"",
        headers: dict[str, str] | None = None,
        exception: BaseException | None = None,
        repeat: bool = False,
    ) -> None:
        """Register one answer (or failure) for ``method`` on ``url``."""
        data = orjson.dumps(payload) if payload is not None else body
        if isinstance(data, str):
            data = data.encode()
        answer_headers = {"Content-Type": "application/json", **(headers or {})}
        self._routes.append(_Route(method, url, status, data, answer_headers, exception, repeat))

    def get(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        """Register an answer to a GET."""
        self.add("GET", url, **kwargs)

    def post(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        """Register an answer to a POST."""
        self.add("POST", url, **kwargs)

    def delete(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        """Register an answer to a DELETE."""
        self.add("DELETE", url, **kwargs)

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> RawResponse:
        """Record the request and answer it from the first matching route."""
        at = self._clock.now if self._clock is not None else 0.0
        sent = SentRequest(method, url, dict(headers), body, at)
        self.sent.append(sent)
        self.requests.setdefault((method, URL(url)), []).append(sent)
        await anyio.lowlevel.checkpoint()
        route = next((r for r in self._routes if r.matches(method, url)), None)
        if route is None:
            raise APIConnectionError(f"{method} {url}: nothing registered", method=method, url=url)
        if not route.repeat:
            self._routes.remove(route)
        if isinstance(route.exception, OSError):
            # What the aiohttp transport does with a socket error: the Transport contract.
            raise APIConnectionError(
                f"{method} {url}: {route.exception}", method=method, url=url
            ) from route.exception
        if route.exception is not None:
            raise route.exception
        reason = HTTPStatus(route.status).phrase if route.status in _KNOWN else ""
        return RawResponse(route.status, reason, dict(route.headers), route.body, url)

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True


_KNOWN = frozenset(s.value for s in HTTPStatus)


class DownTransport:
    """A transport whose server never accepts a connection: every send fails to connect."""

    def __init__(self, clock: FakeClock | None = None, cost: float = 0.0) -> None:
        self.attempts = 0
        self._clock = clock
        self._cost = cost

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: Timeouts,
    ) -> RawResponse:
        """Fail to connect (after ``cost`` seconds of the fake clock)."""
        self.attempts += 1
        if self._clock is not None:
            self._clock.now += self._cost
        await anyio.lowlevel.checkpoint()
        raise APIConnectionError(
            f"{method} {url}: ClientConnectorError: Connection refused",
            method=method,
            url=url,
            connect_failed=True,
        )

    async def aclose(self) -> None:
        """Nothing to close."""


class RecordingLimiter:
    """A :class:`ica_tapis_async.RateLimiter` that paces nothing and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []
        self.closed = False

    @property
    def rate(self) -> float | None:
        """Never paced."""
        return None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Record the slot and let the request go."""
        self.calls.append(("slot", None))
        yield

    async def record_success(self) -> None:
        """Record a success."""
        self.calls.append(("success", None))

    async def record_throttle(self) -> None:
        """Record a throttle."""
        self.calls.append(("throttle", None))

    async def pause_for(self, seconds: float) -> None:
        """Record a pause."""
        self.calls.append(("pause", seconds))

    async def aclose(self) -> None:
        """Record the close."""
        self.closed = True
