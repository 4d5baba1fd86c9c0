"""The session: retries, idempotency, timeouts, transport failures, redirects, secrets."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import re
import socket
import time

import aiohttp
import pytest
from aioresponses import aioresponses

import ica_tapis_async as ita

from .conftest import API_KEY, ICA, PROJECT, TAPIS_TOKEN, UUID, batch, data_transfer, problem

TRANSFER_URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"
ANALYSIS_URL = f"{ICA}/api/projects/{PROJECT}/analysisCreationBatch"


def analysis_request() -> ita.CreateAnalysisCreationBatch:
    """A one-item analysis creation request."""
    return ita.CreateAnalysisCreationBatch(
        nextflow_items=[
            ita.CreateNextflowAnalysis("sample-1", "pipe-1", ita.NextflowAnalysisInput([]))
        ]
    )


def record_sleeps(client: ita.IcaClient) -> list[float]:
    """Replace the client's sleep with one that records the delays and returns at once."""
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    client._session._sleep = fake_sleep
    return sleeps


async def test_get_retries_503_then_succeeds(http: aioresponses, ica: ita.IcaClient) -> None:
    """A GET answered 503 is retried and the retry counted."""
    http.get(TRANSFER_URL, status=503, payload=problem(503))
    http.get(TRANSFER_URL, status=200, payload=data_transfer())
    got = await ica.data_transfers.get(PROJECT, UUID)
    assert got.id == UUID
    assert ica.metrics.retries == 1 and ica.metrics.requests == 2


async def test_get_gives_up_after_max_attempts(http: aioresponses, ica: ita.IcaClient) -> None:
    """After max attempts the typed error of the last answer is raised."""
    for _ in range(3):
        http.get(TRANSFER_URL, status=502, body="<html><title>Bad Gateway</title></html>")
    with pytest.raises(ita.ServerError) as info:
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.no_wait(3))
    assert info.value.status == 502 and "Bad Gateway" in str(info.value)
    assert ica.metrics.requests == 3


async def test_post_without_key_is_not_retried(http: aioresponses, ica: ita.IcaClient) -> None:
    """A linking create has no idempotency key: a 503 is raised, not retried."""
    url = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
    http.post(url, status=503, payload=problem(503))
    with pytest.raises(ita.ServerError):
        await ica.data_linking_batches.create(PROJECT, ["fil.1"])
    assert ica.metrics.requests == 1


async def test_post_declared_safe_is_retried(http: aioresponses, ica: ita.IcaClient) -> None:
    """retry_safe=True allows retrying a POST after a lost answer."""
    url = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
    http.post(url, exception=aiohttp.ServerDisconnectedError())
    http.post(url, status=201, payload=batch())
    got = await ica.data_linking_batches.create(PROJECT, ["fil.1"], retry_safe=True)
    assert got.id and ica.metrics.retries == 1


async def test_idempotency_key_made_once_and_sent_on_every_attempt(
    http: aioresponses, ica: ita.IcaClient
) -> None:
    """The same key goes out on every retry, including after 409 in-progress answers."""
    http.post(ANALYSIS_URL, exception=TimeoutError())
    http.post(ANALYSIS_URL, status=409, payload=problem(409, detail="still in progress"))
    http.post(ANALYSIS_URL, status=201, payload=batch())
    await ica.analysis_creation_batches.create(PROJECT, analysis_request())
    keys = {
        call.kwargs["headers"]["Idempotency-Key"]
        for calls in http.requests.values()
        for call in calls
    }
    assert len(keys) == 1 and ica.metrics.requests == 3


async def test_caller_key_422_raises_and_is_not_retried(
    http: aioresponses, ica: ita.IcaClient
) -> None:
    """A 422 on a keyed request is an IdempotencyConflictError, tried once only."""
    http.post(ANALYSIS_URL, status=422, payload=problem(422, detail="body differs"))
    with pytest.raises(ita.IdempotencyConflictError) as info:
        await ica.analysis_creation_batches.create(
            PROJECT, analysis_request(), idempotency_key="run-1-0"
        )
    assert info.value.idempotency_key == "run-1-0"
    assert info.value.problem is not None and info.value.problem.detail == "body differs"
    assert ica.metrics.requests == 1


async def test_conflict_without_key_is_plain_conflict(
    http: aioresponses, ica: ita.IcaClient
) -> None:
    """A 409 on abort (no key) is a ConflictError, not retried."""
    http.post(f"{TRANSFER_URL}:abort", status=409, payload=problem(409, detail="finished"))
    with pytest.raises(ita.ConflictError) as info:
        await ica.data_transfers.abort(PROJECT, UUID)
    assert not isinstance(info.value, ita.IdempotencyInProgressError)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("2", 2.0), ("1000", 30.0), (None, None)],
)
async def test_retry_after_is_honoured_and_capped(
    http: aioresponses, retry_after: str | None, expected: float | None
) -> None:
    """Retry-After seconds are waited, capped at max_retry_after; otherwise backoff."""
    policy = ita.RetryPolicy(max_retry_after=30.0, initial_backoff=0.25, jitter=False)
    async with ita.IcaClient(ICA, api_key=API_KEY, retry=policy) as ica:
        sleeps = record_sleeps(ica)
        headers = {"Retry-After": retry_after} if retry_after else {}
        http.get(TRANSFER_URL, status=429, payload=problem(429), headers=headers)
        http.get(TRANSFER_URL, status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert sleeps == [expected if expected is not None else 0.25]
    assert ica.metrics.throttled == 1


async def test_retry_after_http_date(http: aioresponses) -> None:
    """An HTTP-date Retry-After becomes the seconds until that date."""
    async with ita.IcaClient(ICA, api_key=API_KEY) as ica:
        sleeps = record_sleeps(ica)
        when = email.utils.formatdate(time.time() + 10, usegmt=True)
        http.get(TRANSFER_URL, status=503, headers={"Retry-After": when})
        http.get(TRANSFER_URL, status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert len(sleeps) == 1 and 8.0 <= sleeps[0] <= 10.0


async def test_total_deadline_stops_retries(http: aioresponses) -> None:
    """Retries stop when the next wait would pass the total deadline."""
    policy = ita.RetryPolicy(max_attempts=10, total_timeout=5.0, initial_backoff=2, jitter=False)
    async with ita.IcaClient(ICA, api_key=API_KEY, retry=policy) as ica:
        now = [0.0]

        async def fake_sleep(delay: float) -> None:
            now[0] += delay

        ica._session._sleep = fake_sleep
        ica._session._clock = lambda: now[0]
        for _ in range(10):
            http.get(TRANSFER_URL, status=503)
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get(PROJECT, UUID)
    # waits of 2 then 4 would reach 6 s > 5 s: two attempts only
    assert ica.metrics.requests == 2


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (aiohttp.ClientConnectionError("Connection refused"), ita.APIConnectionError),
        (aiohttp.ServerDisconnectedError(), ita.APIConnectionError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), ita.APIConnectionError),
        (TimeoutError(), ita.APITimeoutError),
        (aiohttp.ServerTimeoutError("read"), ita.APITimeoutError),
        (ConnectionResetError(104, "reset"), ita.APIConnectionError),
    ],
)
async def test_transport_failures_are_typed(
    http: aioresponses, ica: ita.IcaClient, exc: BaseException, expected: type[Exception]
) -> None:
    """No aiohttp or asyncio exception escapes: each becomes our own type."""
    for _ in range(2):
        http.get(TRANSFER_URL, exception=exc)
    with pytest.raises(expected) as info:
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.no_wait(2))
    assert not isinstance(info.value, aiohttp.ClientError | asyncio.TimeoutError)
    assert ica.metrics.requests == 2


async def test_connection_refused_on_a_real_closed_port() -> None:
    """A real refused connection to 127.0.0.1 becomes APIConnectionError, after the retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/ica/rest"
    async with ita.IcaClient(base, api_key=API_KEY, retry=ita.RetryPolicy.no_wait(2)) as ica:
        with pytest.raises(ita.APIConnectionError) as info:
            await ica.data_transfers.get(PROJECT, UUID)
    assert not isinstance(info.value, ita.APITimeoutError)
    assert ica.metrics.requests == 2 and API_KEY not in str(info.value)


async def test_invalid_json_is_a_validation_error(http: aioresponses, ica: ita.IcaClient) -> None:
    """A success answer whose body is not JSON raises ResponseValidationError."""
    http.get(
        TRANSFER_URL,
        status=200,
        body=b"{not json",
        headers={"Content-Type": "application/vnd.illumina.v3+json"},
    )
    with pytest.raises(ita.ResponseValidationError, match="invalid JSON"):
        await ica.data_transfers.get(PROJECT, UUID)


async def test_missing_field_names_its_path(http: aioresponses, ica: ita.IcaClient) -> None:
    """A response missing a required field names the field."""
    body = data_transfer()
    del body["status"]
    http.get(TRANSFER_URL, status=200, payload=body)
    with pytest.raises(ita.ResponseValidationError, match="status") as info:
        await ica.data_transfers.get(PROJECT, UUID)
    assert info.value.url == TRANSFER_URL


@pytest.mark.parametrize(
    ("status", "body", "content_type", "cls", "text"),
    [
        (
            400,
            problem(400, "ICA_API_004", "Invalid Accept Header"),
            "application/problem+json",
            ita.BadRequestError,
            "Invalid Accept Header",
        ),
        (401, "", "text/plain", ita.AuthenticationError, "401"),
        (
            403,
            "<html><body><h1>Forbidden</h1></body></html>",
            "text/html",
            ita.PermissionDeniedError,
            "Forbidden",
        ),
        (
            404,
            problem(404, detail="no such transfer"),
            "application/problem+json",
            ita.NotFoundError,
            "no such transfer",
        ),
        (500, "boom", "text/plain", ita.ServerError, "boom"),
    ],
)
async def test_error_bodies(
    http: aioresponses,
    ica: ita.IcaClient,
    status: int,
    body: object,
    content_type: str,
    cls: type[ita.APIStatusError],
    text: str,
) -> None:
    """Problem, HTML, plain-text and empty error bodies all give a typed, readable error."""
    kwargs: dict[str, object] = {"status": status, "headers": {"Content-Type": content_type}}
    if isinstance(body, dict):
        kwargs["payload"] = body
    else:
        kwargs["body"] = body
    http.get(TRANSFER_URL, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(cls, match=re.escape(text)) as info:
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.never())
    assert info.value.status == status
    if isinstance(body, dict):
        assert info.value.problem is not None and info.value.problem.status == status


async def test_cross_origin_redirect_drops_credentials(http: aioresponses) -> None:
    """A redirect to another origin never carries X-API-Key, Authorization or X-Tapis-Token."""
    async with ita.IcaClient(ICA, access_token="JWT-s3cret") as ica:
        http.get(TRANSFER_URL, status=307, headers={"Location": "https://elsewhere.test/t"})
        http.get("https://elsewhere.test/t", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    calls = {str(url): c[0].kwargs["headers"] for (_, url), c in http.requests.items()}
    assert calls[TRANSFER_URL]["Authorization"] == "Bearer JWT-s3cret"
    assert not {"authorization", "x-api-key"} & {
        h.lower() for h in calls["https://elsewhere.test/t"]
    }

    async with ita.TapisClient("https://tapis.test", token=TAPIS_TOKEN) as tapis:
        http.get(
            f"https://tapis.test/v3/files/transfers/{UUID}",
            status=302,
            headers={"Location": "https://other.test/x"},
        )
        http.get("https://other.test/x", status=200, payload={"result": None})
        with pytest.raises(ita.ResponseValidationError):
            await tapis.transfers.get(UUID)
    other = [c for (_, url), c in http.requests.items() if str(url) == "https://other.test/x"]
    assert "X-Tapis-Token" not in other[0][0].kwargs["headers"]


async def test_same_origin_redirect_keeps_credentials(http: aioresponses) -> None:
    """A redirect within the same origin keeps the credentials."""
    async with ita.IcaClient(ICA, api_key=API_KEY) as ica:
        http.get(TRANSFER_URL, status=308, headers={"Location": "/ica/rest/moved"})
        http.get("https://ica.test/ica/rest/moved", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    moved = [c for (_, u), c in http.requests.items() if str(u).endswith("/moved")]
    assert moved[0][0].kwargs["headers"]["X-API-Key"] == API_KEY


async def test_secrets_never_in_logs_reprs_or_errors(
    http: aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    """Keys and tokens appear in no log line, repr or exception text."""
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    async with ita.IcaClient(ICA, api_key=API_KEY, retry=ita.RetryPolicy.no_wait(2)) as ica:
        http.get(TRANSFER_URL, status=503, payload=problem(503))
        http.get(TRANSFER_URL, status=401, payload=problem(401, detail="bad key"))
        try:
            await ica.data_transfers.get(PROJECT, UUID)
        except ita.AuthenticationError as exc:
            errors += [str(exc), repr(exc), repr(exc.__dict__)]
        texts = [repr(ica), repr(ica.config), repr(ica._session.auth)]
    async with ita.TapisClient("https://tapis.test", token=TAPIS_TOKEN) as tapis:
        http.get(
            f"https://tapis.test/v3/files/transfers/{UUID}",
            status=401,
            body="TAPIS_SECURITY_JWT_EXPIRED token expired",
        )
        try:
            await tapis.transfers.get(UUID)
        except ita.AuthenticationError as exc:
            errors += [str(exc), repr(exc.__dict__)]
        texts.append(repr(tapis))
    everything = "\n".join([caplog.text, *errors, *texts])
    assert errors and "retrying" in caplog.text
    assert API_KEY not in everything and TAPIS_TOKEN not in everything
