"""Credentials stay out of the exceptions chained to ours; a closed client sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import pytest

import ica_tapis_async as ita

from .fakes import FakeTransport

API_KEY = "api-key-SECRET-1"
TAPIS_TOKEN = "tapis-jwt-SECRET-2"
PROXY_PASSWORD = "proxy-pw-SECRET-3"


async def _oversized_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # aiohttp refuses a header line over 8190 bytes with a ClientResponseError that keeps the
    # request's headers in its request_info.
    await reader.read(65536)
    writer.write(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture
async def bad_server() -> AsyncIterator[int]:
    """A server on 127.0.0.1 whose answers aiohttp cannot parse; yields its port."""
    server = await asyncio.start_server(_oversized_header, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [error]
    while pending:
        exc = pending.pop()
        if id(exc) not in seen:
            seen.add(id(exc))
            yield exc
            pending.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)


def _texts(error: BaseException) -> list[str]:
    out = []
    for exc in _chain(error):
        out += [str(exc), repr(exc), repr(getattr(exc, "__dict__", {}))]
    return out


def _assert_clean(error: BaseException, *secrets: str) -> None:
    assert error.__cause__ is not None  # the cause is kept for debugging, only scrubbed
    for text in _texts(error):
        for secret in secrets:
            assert secret not in text


async def test_an_ica_connection_error_chain_carries_no_api_key_or_proxy_password(
    bad_server: int,
) -> None:
    """repr()/vars() of the error and of aiohttp's chained cause hold no credential."""
    url = f"http://proxy:{PROXY_PASSWORD}@127.0.0.1:{bad_server}/ica/rest"
    async with ita.IcaClient(url, api_key=API_KEY, retry=ita.RetryPolicy.never()) as ica:
        with pytest.raises(ita.APIConnectionError) as caught:
            await ica.data_transfers.get("p", "t", extra_headers={"X-Own-Secret": "own-SECRET"})
    # aiohttp sends the proxy user info as Basic credentials: base64 of "proxy:<password>".
    _assert_clean(caught.value, API_KEY, PROXY_PASSWORD, "own-SECRET", "cHJveHk6")


async def test_a_tapis_connection_error_chain_carries_no_token(bad_server: int) -> None:
    """The same for the Tapis token, after retries (each attempt's error is chained)."""
    retry = ita.RetryPolicy(max_attempts=2, initial_backoff=0, max_backoff=0)
    url = f"http://127.0.0.1:{bad_server}"
    async with ita.TapisClient(url, token=TAPIS_TOKEN, retry=retry) as tapis:
        with pytest.raises(ita.APIConnectionError) as caught:
            await tapis.transfers.get("t-1")
    _assert_clean(caught.value, TAPIS_TOKEN)


async def test_a_call_after_close_is_refused_and_opens_no_session() -> None:
    """close() then a call: RequestValidationError, and no aiohttp session made to leak."""
    ica = ita.IcaClient("http://127.0.0.1:9/ica/rest", api_key=API_KEY)
    copy = ica.with_options(retry=ita.RetryPolicy.never())
    await ica.close()
    for client in (ica, copy):
        with pytest.raises(ita.RequestValidationError, match="closed"):
            await client.data_transfers.get("p", "t")
        with pytest.raises(ita.RequestValidationError, match="closed"):
            await client.data_transfers.list("p").collect()
    transport = ica.transport
    assert isinstance(transport, ita.AiohttpTransport)
    assert transport._session is None  # nothing was opened after close


async def test_an_aiohttp_transport_sends_nothing_once_closed() -> None:
    """A retry in flight during close() cannot make a new session nobody would close."""
    transport = ita.AiohttpTransport()
    await transport.aclose()
    with pytest.raises(ita.RequestValidationError, match="closed"):
        await transport.send("GET", "http://127.0.0.1:9/x", {}, None, ita.Timeouts())
    assert transport._session is None


async def test_closing_a_copy_leaves_the_original_usable() -> None:
    """`async with ica.with_options(...)` closes nothing: the original still sends."""
    http = FakeTransport()
    http.get("https://h/ica/rest/api/projects/p/dataTransfers/t", status=404, payload={})
    ica = ita.IcaClient("https://h/ica/rest", api_key=API_KEY, transport=http)
    async with ica.with_options(retry=ita.RetryPolicy.never()):
        pass
    with pytest.raises(ita.NotFoundError):
        await ica.data_transfers.get("p", "t", max_retries=0)
    await ica.close()
    with pytest.raises(ita.RequestValidationError):
        await ica.data_transfers.get("p", "t")
    assert len(http.sent) == 1


@pytest.mark.parametrize("path", ["/api/tokens", "/api/tokens:refresh"])
async def test_a_server_token_with_a_line_break_is_the_answers_fault(path: str) -> None:
    """A JWT the server sends with a newline is a ResponseValidationError, never shown."""
    http = FakeTransport()
    base = "https://h/ica/rest"
    http.post(f"{base}{path}", payload={"token": "server-SECRET\n"})
    http.get(f"{base}/api/projects/p/dataTransfers/t", status=404, payload={})
    call: Coroutine[Any, Any, object]
    if path == "/api/tokens":
        ica = ita.IcaClient(base, api_key=API_KEY, exchange_api_key=True, transport=http)
        call = ica.data_transfers.get("p", "t", max_retries=0)
    else:
        ica = ita.IcaClient(base, access_token="jwt-1", transport=http)
        call = ica.tokens.refresh(max_retries=0)
    async with ica:
        with pytest.raises(ita.ResponseValidationError) as caught:
            await call
    assert "server-SECRET" not in str(caught.value)
    assert "server-SECRET" not in repr(vars(caught.value))
