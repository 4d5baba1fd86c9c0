"""One attempt, one deadline (issue 20, point 8).

The per-attempt timeout covers the redirects an attempt follows, and the server never sees
more attempts than ``metrics.requests`` counts: aiohttp's own silent resend of an idempotent
request whose pooled keep-alive connection dropped is turned off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import orjson
import pytest
from aiohttp import web

import ica_tapis_async as ita

from ..unit.fakes import FakeClock
from .helpers import PROJECT, UUID, data_transfer

PATH = f"/ica/rest/api/projects/{PROJECT}/dataTransfers/{UUID}"
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)


class _DroppingServer:
    """Keeps connections alive, but drops a reused connection at its second request unanswered.

    ``requests`` counts every request head the server read, answered or not.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served = 0
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                served += 1
                if served == 2:
                    return  # the pooled connection drops under the request it carries
                body = orjson.dumps(data_transfer())
                writer.write(ANSWER % (len(body), body))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; return the ICA base URL."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ica/rest"


@pytest.fixture
async def dropping() -> AsyncIterator[_DroppingServer]:
    """A server that drops the first reused keep-alive connection."""
    server = _DroppingServer()
    yield server
    if server.server is not None:
        server.server.close()


@pytest.mark.parametrize("policy", [ita.RetryPolicy.never(), ita.RetryPolicy.no_wait(3)])
async def test_a_dropped_pooled_connection_is_no_hidden_attempt(
    dropping: _DroppingServer, policy: ita.RetryPolicy
) -> None:
    """The server sees exactly metrics.requests attempts when a pooled connection drops."""
    async with ita.IcaClient(await dropping.start(), api_key="k", retry=policy) as ica:
        await ica.data_transfers.get(PROJECT, UUID)  # the connection goes back to the pool
        try:
            await ica.data_transfers.get(PROJECT, UUID)  # sent on it, and it drops
        except ita.APIConnectionError:
            assert policy.max_attempts == 1  # only when our policy allows no retry
        assert dropping.requests == ica.metrics.requests
        assert ica.metrics.retries == ica.metrics.requests - 2


async def test_a_borrowed_session_makes_no_hidden_attempt_either(
    dropping: _DroppingServer,
) -> None:
    """Through a caller's aiohttp session, too, each attempt the server sees is counted."""
    async with (
        aiohttp.ClientSession() as session,
        ita.IcaClient(
            await dropping.start(), api_key="k", retry=ita.RetryPolicy.never(), session=session
        ) as ica,
    ):
        await ica.data_transfers.get(PROJECT, UUID)
        with pytest.raises(ita.APIConnectionError):
            await ica.data_transfers.get(PROJECT, UUID)
        assert dropping.requests == ica.metrics.requests == 2


async def _hop(request: web.Request) -> web.Response:
    await asyncio.sleep(0.3)
    step = int(request.match_info["n"])
    if step < 3:
        return web.Response(status=307, headers={"Location": f"/hop/{step + 1}"})
    return web.json_response(data_transfer())


@pytest.fixture
async def hops() -> AsyncIterator[str]:
    """A server whose /hop/1 redirects twice, each hop answering after 0.3 s."""
    app = web.Application()
    app.router.add_get(PATH, _hop_start)
    app.router.add_get("/hop/{n}", _hop)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/ica/rest"
    finally:
        await runner.cleanup()


async def _hop_start(request: web.Request) -> web.Response:
    return web.Response(status=307, headers={"Location": "/hop/1"})


async def test_the_attempt_timeout_covers_its_redirects(hops: str) -> None:
    """Three hops of 0.3 s each under a 0.5 s attempt timeout time out, each hop alone would not."""
    timeouts = ita.Timeouts(total=0.5, connect=0.5, sock_read=0.5)
    async with ita.IcaClient(hops, api_key="k", timeouts=timeouts) as ica:
        with pytest.raises(ita.APITimeoutError):  # without the cover: a success after 0.9 s
            await ica.data_transfers.get(PROJECT, UUID, max_retries=0)


class _SlowHops:
    """A transport whose every hop costs 40 s of the fake clock and redirects."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.totals: list[float | None] = []

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> ita.RawResponse:
        """Record the time this hop may take, spend 40 s, redirect."""
        self.totals.append(timeouts.total)
        self.clock.now += 40
        return ita.RawResponse(307, "", {"Location": f"/hop{len(self.totals)}"}, b"", url)

    async def aclose(self) -> None:
        """Nothing to close."""


async def test_each_hop_gets_only_what_is_left_of_the_attempt() -> None:
    """With total=100 and 40 s per hop: the hops get 100, 60 and 20 s, the fourth is not sent."""
    clock = FakeClock()
    transport = _SlowHops(clock)
    async with ita.IcaClient(
        "https://ica.test/ica/rest", api_key="k", transport=transport, clock=clock,
        sleep=clock.sleep, timeouts=ita.Timeouts(total=100), retry=ita.RetryPolicy.never(),
    ) as ica:  # fmt: skip
        with pytest.raises(ita.APITimeoutError, match="following redirects"):
            await ica.data_transfers.get(PROJECT, UUID)
    assert transport.totals == [100, 60, 20]
