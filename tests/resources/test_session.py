"""The dispatcher: retries, idempotency, timeouts, transport failures, redirects, secrets."""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import time

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeClock, FakeTransport
from .helpers import API_KEY, ICA, PROJECT, TAPIS_TOKEN, UUID, batch, data_transfer, problem

TRANSFER_URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"
ANALYSIS_URL = f"{ICA}/api/projects/{PROJECT}/analysisCreationBatch"


def analysis_request() -> ita.CreateAnalysisCreationBatch:
    """A one-item analysis creation request."""
    return ita.CreateAnalysisCreationBatch(
        nextflow_items=[
            ita.CreateNextflowAnalysis("sample-1", "pipe-1", ita.NextflowAnalysisInput([]))
        ]
    )


def lost(method: str = "POST") -> ita.APIConnectionError:
    """What a transport raises when the connection drops before the answer."""
    return ita.APIConnectionError(f"{method} x: ServerDisconnectedError", method=method)


async def test_get_retries_503_then_succeeds(http: FakeTransport, ica: ita.IcaClient) -> None:
    """A GET answered 503 is retried and the retry counted."""
    http.get(TRANSFER_URL, status=503, payload=problem(503))
    http.get(TRANSFER_URL, status=200, payload=data_transfer())
    got = await ica.data_transfers.get(PROJECT, UUID)
    assert got.id == UUID
    assert ica.metrics.retries == 1
    assert ica.metrics.requests == 2


async def test_get_gives_up_after_max_attempts(http: FakeTransport, ica: ita.IcaClient) -> None:
    """After max attempts the typed error of the last answer is raised."""
    for _ in range(3):
        http.get(TRANSFER_URL, status=502, body="<html><title>Bad Gateway</title></html>")
    with pytest.raises(ita.ServerError) as info:
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.no_wait(3))
    assert info.value.status == 502
    assert "Bad Gateway" in str(info.value)
    assert ica.metrics.requests == 3


async def test_post_without_key_is_not_retried(http: FakeTransport, ica: ita.IcaClient) -> None:
    """A linking create has no idempotency key: a 503 is raised, not retried."""
    url = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
    http.post(url, status=503, payload=problem(503))
    with pytest.raises(ita.ServerError):
        await ica.data_linking_batches.create(PROJECT, ["fil.1"])
    assert ica.metrics.requests == 1


async def test_post_declared_safe_is_retried(http: FakeTransport, ica: ita.IcaClient) -> None:
    """retry_safe=True allows retrying a POST after a lost answer."""
    url = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
    http.post(url, exception=lost())
    http.post(url, status=201, payload=batch())
    got = await ica.data_linking_batches.create(PROJECT, ["fil.1"], retry_safe=True)
    assert got.id
    assert ica.metrics.retries == 1


async def test_idempotency_key_made_once_and_sent_on_every_attempt(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """The same key goes out on every retry, including after 409 in-progress answers."""
    http.post(ANALYSIS_URL, exception=ita.APITimeoutError("POST x: timed out"))
    http.post(ANALYSIS_URL, status=409, payload=problem(409, detail="still in progress"))
    http.post(ANALYSIS_URL, status=201, payload=batch())
    await ica.analysis_creation_batches.create(PROJECT, analysis_request())
    keys = {call.headers["Idempotency-Key"] for call in http.sent}
    assert len(keys) == 1
    assert ica.metrics.requests == 3


async def test_caller_key_422_raises_and_is_not_retried(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """A 422 on a keyed request is an IdempotencyConflictError, tried once only."""
    http.post(ANALYSIS_URL, status=422, payload=problem(422, detail="body differs"))
    with pytest.raises(ita.IdempotencyConflictError) as info:
        await ica.analysis_creation_batches.create(
            PROJECT, analysis_request(), idempotency_key="run-1-0"
        )
    assert info.value.idempotency_key == "run-1-0"
    assert info.value.problem is not None
    assert info.value.problem.detail == "body differs"
    assert ica.metrics.requests == 1


async def test_conflict_without_key_is_plain_conflict(
    http: FakeTransport, ica: ita.IcaClient
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
    http: FakeTransport, retry_after: str | None, expected: float | None
) -> None:
    """Retry-After seconds are waited, capped at max_retry_after; otherwise backoff."""
    policy = ita.RetryPolicy(max_retry_after=30.0, initial_backoff=0.25, jitter=False)
    clock = FakeClock()
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=policy, clock=clock, sleep=clock.sleep
    ) as ica:
        headers = {"Retry-After": retry_after} if retry_after else {}
        http.get(TRANSFER_URL, status=429, payload=problem(429), headers=headers)
        http.get(TRANSFER_URL, status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert clock.sleeps == [expected if expected is not None else 0.25]
    assert ica.metrics.throttled == 1


def test_default_retry_after_cap_is_minutes() -> None:
    """The default cap on Retry-After is minutes, not 60 s (issue 9)."""
    assert ita.RetryPolicy().max_retry_after >= 180


async def test_long_retry_after_is_waited_in_full() -> None:
    """A four-minute Retry-After is honoured by the default policy when no deadline is set."""
    clock = FakeClock()
    http = FakeTransport(clock)
    policy = ita.RetryPolicy(total_timeout=None)
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=policy, clock=clock, sleep=clock.sleep
    ) as ica:
        http.get(TRANSFER_URL, status=429, payload=problem(429), headers={"Retry-After": "240"})
        http.get(TRANSFER_URL, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert [call.at for call in http.sent] == [1000.0, 1240.0]


async def test_retry_after_pauses_every_caller_of_the_client() -> None:
    """After a 429 with Retry-After, another coroutine's request waits until then too."""
    clock = FakeClock()
    http = FakeTransport(clock)
    other = f"{ICA}/api/projects/{PROJECT}/dataTransfers/other"
    policy = ita.RetryPolicy(total_timeout=None, jitter=False)
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=policy, clock=clock, sleep=clock.sleep
    ) as ica:
        http.get(TRANSFER_URL, status=429, payload=problem(429), headers={"Retry-After": "90"})
        http.get(TRANSFER_URL, payload=data_transfer())
        http.get(other, payload=data_transfer("other"))
        await ica.data_transfers.get(PROJECT, UUID)
        await ica.data_transfers.get(PROJECT, "other", max_retries=0)
    at = {call.url: call.at for call in http.sent}
    assert at[other] >= 1090.0


async def test_rate_limit_words_in_a_400_are_not_throttling(http: FakeTransport) -> None:
    """A 400 whose text mentions a rate limit is a BadRequestError: not retried, not throttled."""
    limits = ita.RateLimitPolicy(rate=50, burst=5)
    async with ita.IcaClient(ICA, transport=http, api_key=API_KEY, rate_limit=limits) as ica:
        body = problem(400, "ICA_API_009", "rateLimit must be below 100 (rate limit exceeded)")
        http.get(TRANSFER_URL, status=400, payload=body)
        with pytest.raises(ita.BadRequestError):
            await ica.data_transfers.get(PROJECT, UUID)
        assert ica.metrics.requests == 1
        assert ica.metrics.throttled == 0
        assert ica.limiter.rate == 50


@pytest.mark.parametrize(
    "text",
    ["Request was throttled", "Rate-Limit reached", "Too Many Requests", "please slow down"],
)
@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (503, 2)])
async def test_throttling_words_never_make_a_throttle(
    http: FakeTransport, ica: ita.IcaClient, status: int, attempts: int, text: str
) -> None:
    """Words in a 400 or 503 body do not cut the rate: a 400 is raised at once, a 503 retried
    as an outage; neither counts as throttled."""
    http.get(TRANSFER_URL, status=status, payload={"message": text}, repeat=True)
    with pytest.raises(ita.APIStatusError):
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.no_wait(2))
    assert ica.metrics.requests == attempts
    assert ica.metrics.throttled == 0


async def test_retry_after_http_date(http: FakeTransport) -> None:
    """An HTTP-date Retry-After becomes the seconds until that date."""
    clock = FakeClock()
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, clock=clock, sleep=clock.sleep
    ) as ica:
        when = email.utils.formatdate(time.time() + 10, usegmt=True)
        http.get(TRANSFER_URL, status=503, headers={"Retry-After": when})
        http.get(TRANSFER_URL, status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert len(clock.sleeps) == 1
    assert 8.0 <= clock.sleeps[0] <= 10.0


async def test_total_deadline_stops_retries(http: FakeTransport) -> None:
    """Retries stop when the next wait would pass the total deadline."""
    policy = ita.RetryPolicy(max_attempts=10, total_timeout=5.0, initial_backoff=2, jitter=False)
    clock = FakeClock()
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=policy, clock=clock, sleep=clock.sleep
    ) as ica:
        for _ in range(10):
            http.get(TRANSFER_URL, status=503)
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get(PROJECT, UUID)
    # waits of 2 then 4 would reach 6 s > 5 s: two attempts only
    assert ica.metrics.requests == 2


async def test_transport_failures_are_retried_then_raised(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """A GET whose transport fails is retried; the last failure is raised as it came."""
    for _ in range(2):
        http.get(TRANSFER_URL, exception=ita.APITimeoutError("GET x: timed out"))
    with pytest.raises(ita.APITimeoutError):
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.no_wait(2))
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
    assert ica.metrics.requests == 2
    assert API_KEY not in str(info.value)


async def test_invalid_json_is_a_validation_error(http: FakeTransport, ica: ita.IcaClient) -> None:
    """A success answer whose body is not JSON raises ResponseValidationError."""
    http.get(
        TRANSFER_URL,
        status=200,
        body=b"{not json",
        headers={"Content-Type": "application/vnd.illumina.v3+json"},
    )
    with pytest.raises(ita.ResponseValidationError, match="invalid JSON"):
        await ica.data_transfers.get(PROJECT, UUID)


async def test_missing_field_names_its_path(http: FakeTransport, ica: ita.IcaClient) -> None:
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
    http: FakeTransport,
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
    http.get(TRANSFER_URL, **kwargs)
    with pytest.raises(cls, match=re.escape(text)) as info:
        await ica.data_transfers.get(PROJECT, UUID, retry=ita.RetryPolicy.never())
    assert info.value.status == status
    if isinstance(body, dict):
        assert info.value.problem is not None
        assert info.value.problem.status == status


async def test_cross_origin_redirect_drops_credentials(http: FakeTransport) -> None:
    """A redirect to another origin never carries X-API-Key, Authorization or X-Tapis-Token."""
    async with ita.IcaClient(ICA, transport=http, access_token="JWT-s3cret") as ica:
        http.get(TRANSFER_URL, status=307, headers={"Location": "https://elsewhere.test/t"})
        http.get("https://elsewhere.test/t", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    calls = {call.url: call.headers for call in http.sent}
    assert calls[TRANSFER_URL]["Authorization"] == "Bearer JWT-s3cret"
    assert not {"authorization", "x-api-key"} & {
        h.lower() for h in calls["https://elsewhere.test/t"]
    }

    async with ita.TapisClient("https://tapis.test", transport=http, token=TAPIS_TOKEN) as tapis:
        http.get(
            f"https://tapis.test/v3/files/transfers/{UUID}",
            status=302,
            headers={"Location": "https://other.test/x"},
        )
        http.get("https://other.test/x", status=200, payload={"result": None})
        with pytest.raises(ita.ResponseValidationError):
            await tapis.transfers.get(UUID)
    other = [call for call in http.sent if call.url == "https://other.test/x"]
    assert "X-Tapis-Token" not in other[0].headers


async def test_same_origin_redirect_keeps_credentials(http: FakeTransport) -> None:
    """A redirect within the same origin keeps the credentials."""
    async with ita.IcaClient(ICA, transport=http, api_key=API_KEY) as ica:
        http.get(TRANSFER_URL, status=308, headers={"Location": "/ica/rest/moved"})
        http.get("https://ica.test/ica/rest/moved", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    moved = [call for call in http.sent if call.url.endswith("/moved")]
    assert moved[0].headers["X-API-Key"] == API_KEY


async def test_secrets_never_in_logs_reprs_or_errors(
    http: FakeTransport, caplog: pytest.LogCaptureFixture
) -> None:
    """Keys and tokens appear in no log line, repr or exception text."""
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=ita.RetryPolicy.no_wait(2)
    ) as ica:
        http.get(TRANSFER_URL, status=503, payload=problem(503))
        http.get(TRANSFER_URL, status=401, payload=problem(401, detail="bad key"))
        try:
            await ica.data_transfers.get(PROJECT, UUID)
        except ita.AuthenticationError as exc:
            errors += [str(exc), repr(exc), repr(exc.__dict__)]
        texts = [repr(ica), repr(ica.config)]
    async with ita.TapisClient("https://tapis.test", transport=http, token=TAPIS_TOKEN) as tapis:
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
    assert errors
    assert "retrying" in caplog.text
    assert API_KEY not in everything
    assert TAPIS_TOKEN not in everything
