"""The aiohttp transport against a real server on 127.0.0.1: one exchange, failures typed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

import ica_tapis_async as ita

from .helpers import API_KEY, PROJECT, UUID, data_transfer

QUICK = ita.Timeouts(total=0.5, connect=0.5, sock_read=0.5)


async def _ok(request: web.Request) -> web.Response:
    return web.json_response(data_transfer(), headers={"X-Seen-Key": request.headers["X-API-Key"]})


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.json_response({})


async def _drop(request: web.Request) -> web.Response:
    assert request.transport is not None
    request.transport.close()  # connected, then the connection is lost before an answer
    return web.json_response({})


async def _moved(request: web.Request) -> web.Response:
    return web.Response(status=307, headers={"Location": "/ok"})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A small aiohttp server on a free port of 127.0.0.1; yields its base URL."""
    app = web.Application()
    app.router.add_get("/ok", _ok)
    app.router.add_get(f"/ica/rest/api/projects/{PROJECT}/dataTransfers/{UUID}", _ok)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/drop", _drop)
    app.router.add_get("/moved", _moved)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_one_exchange_returns_status_headers_body(server: str) -> None:
    """send() returns the answer as received."""
    transport = ita.AiohttpTransport()
    try:
        got = await transport.send("GET", f"{server}/ok", {"X-API-Key": "k"}, None, QUICK)
    finally:
        await transport.aclose()
    assert (got.status, got.headers["X-Seen-Key"]) == (200, "k")
    assert b'"dataTransferred"' in got.body


async def test_redirects_are_returned_not_followed(server: str) -> None:
    """A 3xx comes back as it is: following it is the dispatcher's job."""
    transport = ita.AiohttpTransport()
    try:
        got = await transport.send("GET", f"{server}/moved", {}, None, QUICK)
    finally:
        await transport.aclose()
    assert (got.status, got.headers["Location"]) == (307, "/ok")


async def test_refused_connection_is_a_connect_failure() -> None:
    """A closed port raises APIConnectionError marked connect_failed."""
    transport = ita.AiohttpTransport()
    url = f"http://127.0.0.1:{_closed_port()}/x"
    try:
        with pytest.raises(ita.APIConnectionError) as info:
            await transport.send("GET", url, {}, None, QUICK)
    finally:
        await transport.aclose()
    assert info.value.connect_failed
    assert not isinstance(info.value, ita.APITimeoutError)


async def test_lost_connection_is_not_a_connect_failure(server: str) -> None:
    """A connection dropped after it was made is an APIConnectionError, not connect_failed."""
    transport = ita.AiohttpTransport()
    try:
        with pytest.raises(ita.APIConnectionError) as info:
            await transport.send("GET", f"{server}/drop", {}, None, QUICK)
    finally:
        await transport.aclose()
    assert not info.value.connect_failed
    assert not isinstance(info.value.__cause__, type(None))


async def test_slow_answer_is_a_timeout(server: str) -> None:
    """An answer slower than the timeout raises APITimeoutError (not an aiohttp type)."""
    transport = ita.AiohttpTransport()
    short = ita.Timeouts(total=0.2, connect=0.2, sock_read=0.2)
    try:
        with pytest.raises(ita.APITimeoutError) as info:
            await transport.send("GET", f"{server}/slow", {}, None, short)
    finally:
        await transport.aclose()
    assert not isinstance(info.value, aiohttp.ClientError)


async def test_borrowed_session_is_left_open(server: str) -> None:
    """A caller's aiohttp session is used and not closed by the client."""
    async with aiohttp.ClientSession() as session:
        async with ita.IcaClient(f"{server}/ica/rest", api_key=API_KEY, session=session) as ica:
            got = await ica.data_transfers.get(PROJECT, UUID)
        assert got.id == UUID
        assert not session.closed


async def test_owned_session_is_closed(server: str) -> None:
    """The aiohttp session the client made is closed on exit."""
    async with ita.IcaClient(f"{server}/ica/rest", api_key=API_KEY) as ica:
        await ica.data_transfers.get(PROJECT, UUID)
    transport = ica.transport
    assert isinstance(transport, ita.AiohttpTransport)
    assert transport.closed


def test_session_and_transport_together_are_refused() -> None:
    """Passing both an aiohttp session and a transport is a clear error."""
    with pytest.raises(ValueError, match="either session or transport"):
        ita.IcaClient(
            "https://h/ica/rest",
            api_key=API_KEY,
            session=object(),  # type: ignore[arg-type]
            transport=ita.AiohttpTransport(),
        )


def test_transport_must_implement_the_protocol() -> None:
    """A transport without send/aclose is refused, by name."""
    with pytest.raises(ita.RequestValidationError, match="Transport"):
        ita.IcaClient("https://h/ica/rest", api_key=API_KEY, transport=object())  # type: ignore[arg-type]
