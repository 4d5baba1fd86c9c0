"""Edges of the client's contract found by a hostile review: settings the checks let through
that later escaped as builtin exceptions, and calls racing close()."""

from __future__ import annotations

import asyncio
import warnings
from functools import partial
from typing import Any

import aiohttp
import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .fakes import FakeTransport

BASE = "https://h/ica/rest"


async def test_more_than_a_thousand_attempts_keep_backing_off() -> None:
    """``initial_backoff * 2 ** attempt`` overflowed a float at attempt 1025: OverflowError
    escaped a call whose policy allowed more attempts (a long ``total_timeout`` with a small
    ``max_backoff``)."""
    http = FakeTransport()
    http.get(f"{BASE}/api/projects/p/dataTransfers/t", status=503, payload={}, repeat=True)
    retry = ita.RetryPolicy(
        max_attempts=1100, total_timeout=None, initial_backoff=0.001, max_backoff=0.001
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with ita.IcaClient(BASE, api_key="k", transport=http, retry=retry, sleep=sleep) as ica:
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get("p", "t")
    assert len(http.sent) == 1100
    assert max(waits) <= 0.001


@pytest.mark.parametrize(
    "url",
    [
        "http://a\\b/ica/rest",  # a backslash in the authority
        "http://" + "a" * 64 + ".example/ica/rest",  # a DNS label over 63 characters
        "http://xn--zz\u00e4.example/ica/rest",  # an ACE prefix on a non-ASCII label
        "http://.example/ica/rest",  # an empty label
    ],
)
async def test_a_base_url_aiohttp_cannot_send_to_is_refused_at_construction(url: str) -> None:
    """Accepted before, then ValueError or UnicodeError escaped every call."""
    with pytest.raises(ita.RequestValidationError) as caught:
        ita.IcaClient(url, api_key="k")
    assert caught.value.field == "base_url"
    with pytest.raises(ita.RequestValidationError):
        ita.TapisClient(url, token="t")


@pytest.mark.parametrize("statuses", [[[503]], [{}], ({503: 1},)])
def test_unhashable_retry_statuses_are_refused_by_name(statuses: object) -> None:
    """The converter's frozenset() raised TypeError (unhashable) before the check ran."""
    with pytest.raises(ita.RequestValidationError) as caught:
        ita.RetryPolicy(retry_statuses=statuses)
    assert caught.value.field == "retry_statuses"


async def test_calls_waiting_for_the_limiter_at_close_send_nothing_after_it() -> None:
    """close() while calls wait for an in-flight slot (or sleep before a retry): a borrowed
    transport kept carrying them after the client was closed; now each ends with the
    "closed" RequestValidationError, as it does on the client's own aiohttp transport."""
    http = FakeTransport()
    http.get(f"{BASE}/api/projects/p/dataTransfers/t", status=404, payload={}, repeat=True)
    ica = ita.IcaClient(
        BASE,
        api_key="k",
        transport=http,
        retry=ita.RetryPolicy.never(),
        rate_limit=ita.RateLimitPolicy(max_in_flight=1),
    )
    release = anyio.Event()
    holding = anyio.Event()

    async def hold() -> None:
        holding.set()
        await release.wait()

    outcomes: list[type[Exception]] = []

    async def call(**options: Any) -> None:
        try:
            await ica.data_transfers.get("p", "t", **options)
        except ita.IcaTapisError as exc:
            outcomes.append(type(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(call, before_attempt=hold))  # holds the only slot
        await holding.wait()
        for _ in range(3):
            tg.start_soon(call)
        await anyio.sleep(0.01)  # they queue for the slot
        await ica.close()
        release.set()
    assert http.sent == []
    assert outcomes == [ita.RequestValidationError] * 4


@pytest.mark.parametrize(
    ("argument", "value"),
    [("adaptive", "no"), ("adaptive", 0), ("clock", 5), ("sleep", "later")],
)
def test_the_limiter_refuses_a_non_bool_flag_and_non_callable_hooks(
    argument: str, value: Any
) -> None:
    """``adaptive="no"`` was obeyed as True; ``clock=5`` escaped as TypeError."""
    with pytest.raises(ita.RequestValidationError) as caught:
        ita.AdaptiveRateLimiter(**{argument: value})
    assert caught.value.field == argument


async def test_a_borrowed_session_that_raises_for_status_still_gives_typed_answers() -> None:
    """``aiohttp.ClientSession(raise_for_status=True)`` lent to the client turned every error
    answer into an APIConnectionError (a 404 retried as a lost connection, a 401 never renewed,
    a 429 never throttled)."""
    async with (
        Simulator() as sim,
        aiohttp.ClientSession(raise_for_status=True) as session,
        ita.IcaClient(
            sim.ica_url, api_key="key-1", session=session, retry=ita.RetryPolicy.never()
        ) as ica,
    ):
        with pytest.raises(ita.NotFoundError):
            await ica.data_transfers.get("p", "no-such-transfer")


async def test_a_borrowed_session_with_its_own_auth_is_refused_by_name() -> None:
    """A session made with ``auth=`` adds an Authorization header of its own: with a bearer
    JWT aiohttp raised ValueError on every call; with an API key it sent both credentials."""
    async with aiohttp.ClientSession(headers={"X": "1"}) as plain:
        ita.IcaClient(BASE, access_token="jwt-1", session=plain)  # default headers are fine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp deprecates auth=
        async with aiohttp.ClientSession(auth=aiohttp.BasicAuth("u", "pw")) as session:
            for credentials in ({"access_token": "jwt-1"}, {"api_key": "k"}):
                with pytest.raises(ita.RequestValidationError) as caught:
                    ita.IcaClient(BASE, session=session, **credentials)  # type: ignore[arg-type]
                assert caught.value.field == "session"
            with pytest.raises(ita.RequestValidationError):
                ita.TapisClient(BASE, token="t", session=session)


@pytest.mark.parametrize(
    "retry",
    [
        ita.RetryPolicy.never(),
        ita.RetryPolicy(max_attempts=3, initial_backoff=30, max_backoff=30, jitter=False),
    ],
)
async def test_close_ends_a_call_whose_answer_is_being_read(retry: ita.RetryPolicy) -> None:
    """close() while a body is being read: aiohttp drops the connection but leaves the read
    waiting, so the call hung until the total timeout (forever with ``timeout=None``). Now
    it ends at once with an APIConnectionError (the answer was lost: a POST is in doubt),
    without first waiting out a retry's backoff that could only be refused."""
    started = anyio.Event()
    release = asyncio.Event()

    async def half_an_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 100\r\n\r\n{")
        await writer.drain()
        started.set()
        await release.wait()  # the rest never comes while the test runs
        writer.close()

    server = await asyncio.start_server(half_an_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ica = ita.IcaClient(
        f"http://127.0.0.1:{port}/ica/rest",
        api_key="k",
        retry=retry,
        timeouts=ita.Timeouts(total=None, sock_read=None),
    )
    outcome: list[BaseException] = []

    async def call() -> None:
        try:
            await ica.data_transfers.get("p", "t")
        except ita.IcaTapisError as exc:
            outcome.append(exc)

    try:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await started.wait()
                await anyio.sleep(0.05)  # the client is reading the body
                await ica.close()
    finally:
        release.set()
        server.close()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ita.APIConnectionError)
    assert "closed" in str(outcome[0])


@pytest.mark.parametrize("segment", [".", ".."])
async def test_a_dot_segment_id_is_refused_not_sent_to_another_endpoint(segment: str) -> None:
    """``project_id=".."`` was sent as ``/api/projects/../dataTransfers/t``, which a server or
    proxy resolves to another endpoint (``abort`` or ``create`` on the wrong resource)."""
    http = FakeTransport()
    async with (
        ita.IcaClient(BASE, api_key="k", transport=http) as ica,
        ita.TapisClient("https://t", token="t", transport=http) as tapis,
    ):
        with pytest.raises(ita.RequestValidationError) as caught:
            await ica.data_transfers.abort(segment, "t", retry_safe=True)
        assert caught.value.field == "project_id"
        with pytest.raises(ita.RequestValidationError) as caught:
            await ica.data_transfers.get("p", segment)
        assert caught.value.field == "transfer_id"
        with pytest.raises(ita.RequestValidationError) as caught:
            await tapis.transfers.cancel(segment)
        assert caught.value.field == "transfer_task_id"
    assert http.sent == []


@pytest.mark.parametrize(
    "retry_after",
    ["Mon, 01 Jan 99999999999 00:00:00 GMT", "Mon, 01 Jan 2020 00:00:00 +99999999999999999999"],
)
async def test_a_retry_after_date_out_of_range_is_ignored(retry_after: str) -> None:
    """A hostile Retry-After date whose year or zone overflows made OverflowError escape the
    call; it is ignored like any other unreadable Retry-After."""
    http = FakeTransport()
    http.get(
        f"{BASE}/api/projects/p/dataTransfers/t",
        status=503,
        payload={},
        headers={"Retry-After": retry_after},
        repeat=True,
    )
    async with ita.IcaClient(
        BASE, api_key="k", transport=http, retry=ita.RetryPolicy.no_wait(max_attempts=2)
    ) as ica:
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get("p", "t")
    assert len(http.sent) == 2


async def test_close_cuts_a_retry_backoff_short_and_the_call_ends_with_its_error() -> None:
    """A call sleeping 30 s before retrying a 503 when the client is closed: it slept on,
    only to be refused. Now close() wakes it and it ends with the 503 it got."""
    http = FakeTransport()
    http.get(f"{BASE}/api/projects/p/dataTransfers/t", status=503, payload={}, repeat=True)
    retry = ita.RetryPolicy(max_attempts=3, initial_backoff=30, max_backoff=30, jitter=False)
    ica = ita.IcaClient(BASE, api_key="k", transport=http, retry=retry)
    outcome: list[BaseException] = []
    retrying = anyio.Event()

    async def call() -> None:
        try:
            await ica.data_transfers.get("p", "t", on_retry=lambda _: retrying.set())
        except ita.IcaTapisError as exc:
            outcome.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await retrying.wait()  # close() right after on_retry, or during the backoff
            await ica.close()
    assert len(http.sent) == 1
    assert [type(e) for e in outcome] == [ita.ServerError]
