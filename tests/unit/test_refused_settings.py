"""Bad settings, options and arguments are refused by name before anything is sent (issue 20)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import ica_tapis_async as ita

from .fakes import FakeTransport

ICA = "https://ica.example.org/ica/rest"
TAPIS = "https://tacc.tapis.io"
PID = "p-1"
BID = "b-1"
NAN, INF = math.nan, math.inf


def _client(http: FakeTransport | None = None, **kwargs: Any) -> ita.IcaClient:
    base_url = kwargs.pop("base_url", ICA)
    settings: dict[str, Any] = {"api_key": "key-1", **kwargs}
    if http is not None:
        settings["transport"] = http
    return ita.IcaClient(base_url, **settings)


SETTINGS: list[tuple[Callable[[], object], str]] = [
    (lambda: ita.RetryPolicy(max_attempts=1.5), "max_attempts"),  # type: ignore[arg-type]
    (lambda: ita.RetryPolicy(max_attempts=True), "max_attempts"),
    (lambda: ita.RetryPolicy(max_attempts="3"), "max_attempts"),  # type: ignore[arg-type]
    (lambda: ita.RetryPolicy(total_timeout=NAN), "total_timeout"),
    (lambda: ita.RetryPolicy(total_timeout=INF), "total_timeout"),
    (lambda: ita.RetryPolicy(max_retry_after=INF), "max_retry_after"),
    (lambda: ita.RetryPolicy(initial_backoff=-1), "initial_backoff"),
    (lambda: ita.RetryPolicy(max_backoff=NAN), "max_backoff"),
    (lambda: ita.RetryPolicy(retry_statuses=503), "retry_statuses"),
    (lambda: ita.RetryPolicy(retry_statuses={503, "429"}), "retry_statuses"),
    (lambda: ita.RetryPolicy(jitter="no"), "jitter"),  # type: ignore[arg-type]
    (lambda: ita.Timeouts(total=-1), "total"),
    (lambda: ita.Timeouts(total=0), "total"),
    (lambda: ita.Timeouts(connect=-0.5), "connect"),
    (lambda: ita.Timeouts(sock_read=NAN), "sock_read"),
    (lambda: ita.RateLimitPolicy(rate=-1), "rate"),
    (lambda: ita.RateLimitPolicy(rate=NAN), "rate"),
    (lambda: ita.RateLimitPolicy(rate=0), "rate"),
    (lambda: ita.RateLimitPolicy(burst="3"), "burst"),  # type: ignore[arg-type]
    (lambda: ita.RateLimitPolicy(max_in_flight=0), "max_in_flight"),
    (lambda: ita.RateLimitPolicy(min_rate=0), "min_rate"),
    (lambda: ita.RateLimitPolicy(min_rate=INF), "min_rate"),
    (lambda: ita.AdaptiveRateLimiter(rate=NAN), "rate"),
    (lambda: ita.AdaptiveRateLimiter(burst=2.5), "burst"),  # type: ignore[arg-type]
    (lambda: _client(max_connections=-1), "max_connections"),
    (lambda: _client(max_connections=0), "max_connections"),
    (lambda: ita.AiohttpTransport(max_connections=-1), "max_connections"),
    (lambda: ita.AiohttpTransport(object()), "session"),  # type: ignore[arg-type]
    (lambda: _client(unreachable_after=NAN), "unreachable_after"),
    (lambda: _client(retry="never"), "retry"),
    (lambda: _client(timeouts=5), "timeouts"),
    (lambda: _client(rate_limit=5), "rate_limit"),
    (lambda: _client(user_agent="ua\r\nX-Injected: 1"), "user_agent"),
    (lambda: _client(extra_headers={"X-A": "a\nb"}), "extra_headers['X-A']"),
    (lambda: _client(extra_headers={"X A:": "a"}), "extra_headers"),
    (lambda: _client(extra_headers=[("X-A", "a")]), "extra_headers"),
    (lambda: _client(exchange_api_key="yes"), "exchange_api_key"),
    (lambda: _client(transport=object()), "transport"),
    (lambda: _client(session=object()), "session"),
    (lambda: _client(clock=5), "clock"),
    (lambda: _client(api_key="key\udcff"), "api_key"),
    (lambda: _client(base_url="http:///ica/rest"), "base_url"),
    (lambda: _client(base_url="https://ica.example.org:99999/ica"), "base_url"),
    (lambda: _client(base_url="https://ica.example.org:port/ica"), "base_url"),
    (lambda: _client(base_url="http://[::1/ica"), "base_url"),
    (lambda: _client(base_url="https://ica.example.org/ica rest"), "base_url"),
    (lambda: _client(base_url="https://ica.example.org/ica?x=1"), "base_url"),
    (lambda: _client(base_url=b"https://ica.example.org"), "base_url"),
    (lambda: _client().with_options(timeouts=5), "timeouts"),  # type: ignore[arg-type]
    (lambda: _client().with_options(retry=3), "retry"),  # type: ignore[arg-type]
    (lambda: _client().with_options(extra_headers={"X": "1\r\n"}), "extra_headers['X']"),
]


@pytest.mark.parametrize(("build", "field"), SETTINGS)
def test_a_bad_setting_is_refused_by_name_where_it_is_given(
    build: Callable[[], object], field: str
) -> None:
    """Each bad setting raises RequestValidationError naming it, at construction."""
    with pytest.raises(ita.RequestValidationError) as info:
        build()
    assert info.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": NAN}, "timeout"),
        ({"timeout": INF}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": 10**400}, "timeout"),  # too large for a float: OverflowError before
        ({"max_retry": 0}, "max_retry"),
        ({"timeouts": 5}, "timeouts"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"retry": "never"}, "retry"),
        ({"extra_headers": 5}, "extra_headers"),
        ({"extra_headers": {"X-A": "a\r\nb"}}, "extra_headers['X-A']"),
        ({"extra_headers": {"Content-Length": "x"}}, "extra_headers"),  # ValueError escaped
        ({"extra_headers": {"transfer-encoding": "chunked"}}, "extra_headers"),
        ({"on_retry": 5}, "on_retry"),
        ({"before_attempt": "later"}, "before_attempt"),
    ],
)
async def test_a_bad_per_call_option_is_refused_by_the_name_the_caller_wrote(
    options: dict[str, Any], field: str
) -> None:
    """Per-call options are keyword-checked and type-checked; nothing is sent."""
    http = FakeTransport()
    async with _client(http) as ica:
        with pytest.raises(ita.RequestValidationError) as info:
            await ica.data_transfers.get(PID, "t-1", **options)
        with pytest.raises(ita.RequestValidationError) as paged:
            ica.data_linking_batches.list_items(PID, BID, **options)
    assert info.value.field == paged.value.field == field
    assert http.sent == []


def test_a_misspelt_option_names_the_one_meant() -> None:
    """`max_retry=0` is no longer ignored: the error suggests max_retries."""
    with pytest.raises(ita.RequestValidationError, match="did you mean max_retries"):
        _client().data_transfers.list(PID, max_retry=0)  # type: ignore[call-arg]


async def test_a_per_call_timeout_reaches_the_transport() -> None:
    """A valid per-call number replaces only the total of the client's timeouts."""
    http = FakeTransport()
    seen: list[ita.Timeouts] = []
    send = http.send

    async def recording(*args: Any) -> Any:
        seen.append(args[4])
        return await send(*args)

    http.send = recording  # type: ignore[method-assign,assignment]
    http.get(f"{ICA}/api/projects/{PID}/dataTransfers/t-1", status=404, payload={})
    async with _client(http, retry=ita.RetryPolicy.never()) as ica:
        with pytest.raises(ita.NotFoundError):
            await ica.data_transfers.get(PID, "t-1", timeout=2.5)
    assert seen == [ita.Timeouts(total=2.5, connect=10.0, sock_read=30.0)]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.data_linking_batches.list_items(PID, BID, status=5), "status"),
        (lambda c: c.data_update_batches.list_items(PID, BID, status=["A", None]), "status[1]"),
        (
            lambda c: c.analysis_creation_batches.list_item_summaries(PID, BID, status=[""]),
            "status[0]",
        ),
        (lambda c: c.data_linking_batches.list_items(PID, BID, page_offset=-1), "page_offset"),
        (lambda c: c.data_linking_batches.list_items(PID, BID, page_offset=1.0), "page_offset"),
        (lambda c: c.data_transfers.list(PID, page_offset=-1), "page_offset"),
        (lambda c: c.data_transfers.list(PID, status=5), "status"),
        (lambda c: c.data_transfers.list(PID, sort=["a"]), "sort"),
        (lambda c: c.data_linking_batches.list_items(PID, BID, status="X\ud800"), "status"),
        (lambda c: c.data_transfers.list("p\udcff"), "project_id"),
    ],
)
def test_a_bad_list_argument_is_refused_when_the_paginator_is_made(
    call: Callable[[ita.IcaClient], object], field: str
) -> None:
    """Status filters, offsets and sort are checked before any page is asked for."""
    http = FakeTransport()
    with pytest.raises(ita.RequestValidationError) as info:
        call(_client(http))
    assert info.value.field == field
    assert http.sent == []


async def test_a_tapis_tag_that_is_not_a_string_is_refused() -> None:
    """tag=5 is a RequestValidationError naming tag, not a TypeError from len()."""
    http = FakeTransport()
    async with ita.TapisClient(TAPIS, token="jwt", transport=http) as tapis:
        with pytest.raises(ita.RequestValidationError) as info:
            await tapis.transfers.create([ita.ReqTransferElement("a", "b")], tag=5)  # type: ignore[arg-type]
    assert info.value.field == "tag"
    assert http.sent == []


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda v: _client(api_key=v), "api_key"),
        (lambda v: _client(api_key=None, access_token=v), "access_token"),
        (lambda v: ita.TapisClient(TAPIS, token=v), "token"),
    ],
)
@pytest.mark.parametrize("secret", ["s3cr3t-value\n", "s3cr3t-value\r\n", "s3cr3t\x00value"])
def test_a_credential_with_a_line_break_is_refused_without_showing_it(
    build: Callable[[str], object], field: str, secret: str
) -> None:
    """A key read with open().read() keeps its newline: refused by name, value never shown."""
    with pytest.raises(ita.RequestValidationError) as info:
        build(secret)
    assert info.value.field == field
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in repr(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"api_key": None, "access_token": "jwt"}, "access_token"),
        ({"exchange_api_key": True}, "exchange_api_key"),
        ({"extra_headers": {"Authorization": "Bearer x"}}, "extra_headers"),
    ],
)
def test_user_info_in_the_url_cannot_go_with_an_authorization_header(
    kwargs: dict[str, Any], field: str
) -> None:
    """aiohttp sends URL user info as Basic auth: a bearer JWT with it is refused up front."""
    with pytest.raises(ita.RequestValidationError) as info:
        _client(base_url="https://proxy:pw@ica.example.org/ica/rest", **kwargs)
    assert info.value.field == field
    assert "pw@" not in str(info.value)


async def test_user_info_with_a_per_call_authorization_header_is_refused() -> None:
    """The same conflict given per call is refused before sending."""
    http = FakeTransport()
    async with _client(http, base_url="https://proxy:pw@ica.example.org/ica/rest") as ica:
        with pytest.raises(ita.RequestValidationError) as info:
            await ica.data_transfers.get(PID, "t", extra_headers={"authorization": "x"})
    assert info.value.field == "extra_headers"
    assert http.sent == []


async def test_basic_credentials_with_user_info_in_the_url_are_refused() -> None:
    """tokens.create(username=, password=) on a client whose URL has user info: refused."""
    http = FakeTransport()
    async with _client(http, base_url="https://proxy:pw@ica.example.org/ica/rest") as ica:
        with pytest.raises(ita.RequestValidationError) as info:
            await ica.tokens.create(username="ana", password="s3cret")
    assert info.value.field == "username"
    assert http.sent == []


async def test_a_borrowed_session_closed_by_its_owner_is_a_library_error() -> None:
    """The owner closed the session it lent: RequestValidationError naming session."""
    session = aiohttp.ClientSession()
    await session.close()
    async with ita.IcaClient(
        "http://127.0.0.1:9/ica/rest", api_key="k", session=session, retry=ita.RetryPolicy.never()
    ) as ica:
        with pytest.raises(ita.RequestValidationError) as info:
            await ica.data_transfers.get(PID, "t")
    assert info.value.field == "session"


_untyped: Any = ita  # the package seen untyped: wrong types on purpose


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.data_linking_batches.create(PID, ["f"], retry_safe="no"), "retry_safe"),
        (lambda c: c.data_transfers.abort(PID, "t", retry_safe=1), "retry_safe"),
        (lambda c: c.data_linking_batches.create(PID, None), "data_ids"),
        (lambda c: c.tokens.create(tenant=1.5), "tenant"),
        (
            lambda c: c.data_update_batches.create(
                PID, [_untyped.DataUpdateGroup(["f"], will_be_archived_at="2030-01-01")]
            ),
            "groups[0].will_be_archived_at",
        ),
        (
            lambda c: c.data_update_batches.create(
                PID, [_untyped.DataUpdateGroup(["f"], user_tags=_untyped.TagUpdate(add_tags=5))]
            ),
            "groups",
        ),
        (
            lambda c: c.analysis_creation_batches.create(
                PID, _untyped.CreateAnalysisCreationBatch(nextflow_items=[5])
            ),
            "request",
        ),
    ],
)
async def test_a_bad_ica_argument_or_model_field_is_refused_by_name(
    call: Callable[[ita.IcaClient], Any], field: str
) -> None:
    """A truthy "no" is not obeyed as retry_safe; a badly filled model names its argument."""
    http = FakeTransport()
    async with _client(http) as ica:
        with pytest.raises(ita.RequestValidationError) as info:
            await call(ica)
    assert info.value.field == field
    assert http.sent == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda t: t.transfers.get("t", include_summary="no"), "include_summary"),
        (lambda t: t.transfers.details("t", impersonation_id=1.5), "impersonation_id"),
        (
            lambda t: t.transfers.create([ita.ReqTransferElement("a", "b")], retry_safe="no"),
            "retry_safe",
        ),
    ],
)
async def test_a_bad_tapis_argument_is_refused_by_name(
    call: Callable[[ita.TapisClient], Any], field: str
) -> None:
    """The Tapis resource checks its flags and filters too."""
    http = FakeTransport()
    async with ita.TapisClient(TAPIS, token="jwt", transport=http) as tapis:
        with pytest.raises(ita.RequestValidationError) as info:
            await call(tapis)
    assert info.value.field == field
    assert http.sent == []


def test_retry_statuses_given_as_a_set_or_list_become_a_frozenset() -> None:
    """A plain set keeps working (and the policy stays hashable)."""
    policy = ita.RetryPolicy(retry_statuses={503, 429})
    assert policy.retry_statuses == frozenset({429, 503})
    assert hash(policy) == hash(ita.RetryPolicy(retry_statuses=[429, 503]))
