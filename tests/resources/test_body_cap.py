"""Bounded answers: a cap on a body as sent and once decompressed (issue 20, point 6).

The raw servers here lie about lengths and stream without end, so that a client that read the
whole body would hang or fill its memory; with the cap it stops at once.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import ICA, PROJECT, TAPIS, UUID, problem

PATH = f"/ica/rest/api/projects/{PROJECT}/dataTransfers/{UUID}"
CAP = 64 * 1024
SLOW = ita.Timeouts(total=5, connect=5, sock_read=5)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Starts raw HTTP servers on 127.0.0.1 from a handler; yields a starter returning the URL."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                return  # the client hung up, as it should once the cap is passed
            finally:
                writer.close()

        server = await asyncio.start_server(run, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/ica/rest"

    yield start
    for server in servers:
        server.close()


async def _forever(writer: asyncio.StreamWriter) -> None:
    while True:  # a body that never ends
        writer.write(b"x" * 4096)
        await writer.drain()
        await asyncio.sleep(0.001)


async def _call(base: str, **kwargs: object) -> float:
    """Get the transfer with the cap; return how long the refusal took."""
    started = time.monotonic()
    async with ita.IcaClient(
        base, api_key="k", retry=ita.RetryPolicy.never(), timeouts=SLOW, max_body_size=CAP,
        **kwargs,  # type: ignore[arg-type]
    ) as ica:  # fmt: skip
        with pytest.raises(ita.ResponseValidationError, match="max_body_size") as caught:
            await ica.data_transfers.get(PROJECT, UUID)
        assert ica.metrics.errors == 1
        assert ica.metrics.requests == 1  # refused, never retried
    assert f"{CAP} bytes" in str(caught.value)
    return time.monotonic() - started


async def test_a_declared_length_over_the_cap_is_refused_unread(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """Content-Length of 1 GB, body trickling: refused at the headers, not after a timeout."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n{"
        )
        await _forever(writer)

    assert await _call(await serve(handler)) < 2


async def test_a_chunked_body_without_end_is_cut_at_the_cap(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """No Content-Length, chunks forever: refused once the cap is passed."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        while True:
            writer.write(b"1000\r\n" + b"x" * 4096 + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.001)

    assert await _call(await serve(handler)) < 2


async def test_a_compression_bomb_is_cut_at_the_cap_once_decompressed(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """30 KB of gzip that inflates to 30 MB: refused at the cap of the decompressed body."""
    bomb = gzip.compress(b" " * 30_000_000, compresslevel=9)
    assert len(bomb) < CAP  # within the cap as sent: only the decompressed size passes it

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
            + bomb
        )
        await writer.drain()
        await asyncio.sleep(5)

    assert await _call(await serve(handler)) < 2


async def test_a_body_within_the_cap_is_read_whole(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """A body under the cap (here an error answer) arrives whole."""
    body = b'{"title": "ICA_API_404", "detail": "' + b"y" * (CAP - 100) + b'"}'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async with ita.IcaClient(
        await serve(handler), api_key="k", timeouts=SLOW, max_body_size=CAP
    ) as ica:
        with pytest.raises(ita.NotFoundError) as caught:
            await ica.data_transfers.get(PROJECT, UUID)
    assert caught.value.body["detail"] == "y" * (CAP - 100)


async def test_any_transport_is_held_to_the_cap() -> None:
    """A custom transport's body over the cap is refused by the dispatcher too."""
    http = FakeTransport()
    http.get(f"{ICA}{PATH.removeprefix('/ica/rest')}", body=b"[" + b" " * CAP + b"]")
    async with ita.IcaClient(ICA, api_key="k", transport=http, max_body_size=CAP) as ica:
        with pytest.raises(ita.ResponseValidationError, match="max_body_size"):
            await ica.data_transfers.get(PROJECT, UUID)
        assert ica.metrics.errors == 1


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "64MiB", None])
def test_a_cap_that_is_no_positive_count_is_refused(value: object) -> None:
    """max_body_size must be an int >= 1, named in the error."""
    with pytest.raises(ita.RequestValidationError) as caught:
        ita.IcaClient(ICA, api_key="k", max_body_size=value)  # type: ignore[arg-type]
    assert caught.value.field == "max_body_size"


def test_the_default_cap_is_64_mib() -> None:
    """The documented default."""
    assert ita.IcaClient(ICA, api_key="k").config.max_body_size == 64 * 1024 * 1024


async def test_messages_from_json_bodies_are_cut_like_text() -> None:
    """A Problem detail or Tapis message of 100,000 characters with newlines: one short line."""
    http = FakeTransport()
    http.get(
        f"{ICA}{PATH.removeprefix('/ica/rest')}",
        status=400,
        payload=problem(400, detail="bad\r\nX-Injected: 1 " + "z" * 100_000),
    )
    http.get(
        f"{TAPIS}/v3/files/transfers/{UUID}",
        status=400,
        payload={"status": "error", "message": "no\nway " + "m" * 100_000, "result": None},
    )
    async with ita.IcaClient(ICA, api_key="k", transport=http) as ica:
        with pytest.raises(ita.BadRequestError) as ica_error:
            await ica.data_transfers.get(PROJECT, UUID)
    async with ita.TapisClient(TAPIS, token="t", transport=http) as tapis:
        with pytest.raises(ita.BadRequestError) as tapis_error:
            await tapis.transfers.get(UUID)
    for caught in (ica_error, tapis_error):
        text = str(caught.value)
        assert len(text) < 600
        assert not {"\n", "\r"} & set(text)
        assert text.endswith("…")


async def test_an_error_answer_over_the_cap_keeps_its_status(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    """A 503 with an endless HTML body is still a 503 (retried as one), its body cut at the cap."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n"
            b"Content-Length: 1000000000\r\n\r\n<html><title>Down</title>"
        )
        await _forever(writer)

    async with ita.IcaClient(
        await serve(handler), api_key="k", timeouts=SLOW, max_body_size=CAP,
        retry=ita.RetryPolicy.no_wait(2),
    ) as ica:  # fmt: skip
        with pytest.raises(ita.ServerError) as caught:
            await ica.data_transfers.get(PROJECT, UUID)
        assert ica.metrics.requests == 2  # retried as a 503
    assert caught.value.status == 503
    assert isinstance(caught.value.body, str)
    assert len(caught.value.body) <= CAP
    assert "Down" in str(caught.value)


async def test_any_transport_error_answer_over_the_cap_is_cut() -> None:
    """A custom transport's 500 body over the cap is cut to the cap, the status kept."""
    http = FakeTransport()
    http.get(f"{ICA}{PATH.removeprefix('/ica/rest')}", status=500, body=b"e" * (CAP * 2))
    async with ita.IcaClient(ICA, api_key="k", transport=http, max_body_size=CAP) as ica:
        with pytest.raises(ita.ServerError) as caught:
            await ica.data_transfers.get(PROJECT, UUID, max_retries=0)
    assert len(caught.value.body) == CAP
