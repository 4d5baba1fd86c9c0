"""Client life cycle: owned vs borrowed sessions, with_options, shared limiter and metrics."""

from __future__ import annotations

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport, RecordingLimiter
from .helpers import API_KEY, ICA, PROJECT, UUID, data_transfer, problem

URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"


async def test_with_options_shares_pool_limiter_and_metrics(http: FakeTransport) -> None:
    """A copy changes defaults but shares the session, limiter and counters."""
    http.get(URL, status=503, payload=problem(503), repeat=True)
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=ita.RetryPolicy.no_wait(4)
    ) as ica:
        once = ica.with_options(retry=ita.RetryPolicy.never())
        assert once.limiter is ica.limiter
        assert once.metrics is ica.metrics
        assert once.config.retry.max_attempts == 1
        assert ica.config.retry.max_attempts == 4
        with pytest.raises(ita.ServerError):
            await once.data_transfers.get(PROJECT, UUID)
        assert ica.metrics.requests == 1
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get(PROJECT, UUID)
        assert ica.metrics.requests == 5


async def test_per_call_options(http: FakeTransport) -> None:
    """max_retries and extra_headers apply to one call; extra headers cannot replace auth."""
    http.get(URL, status=503, payload=problem(503), repeat=True)
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=ita.RetryPolicy.no_wait(5)
    ) as ica:
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get(
                PROJECT, UUID, max_retries=1, extra_headers={"X-API-Key": "evil", "X-Trace": "1"}
            )
        assert ica.metrics.requests == 2
    headers = next(iter(http.requests.values()))[0].kwargs["headers"]
    assert headers["X-API-Key"] == API_KEY
    assert headers["X-Trace"] == "1"


async def test_throttling_feeds_the_shared_limiter(http: FakeTransport) -> None:
    """A 429 is recorded by the client-wide limiter, which then paces every caller."""
    http.get(URL, status=429, payload=problem(429))
    http.get(URL, payload=data_transfer())
    limits = ita.RateLimitPolicy(rate=50, burst=5)
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, retry=ita.RetryPolicy.no_wait(), rate_limit=limits
    ) as ica:
        await ica.data_transfers.get(PROJECT, UUID)
        assert isinstance(ica.limiter, ita.AdaptiveRateLimiter)
        assert ica.limiter.throttle_count == 1
        assert ica.limiter.rate is not None
        assert ica.limiter.rate < 50


def test_constructor_validation() -> None:
    """Missing credentials and bad URLs are clear errors."""
    with pytest.raises(ValueError, match="api_key or access_token"):
        ita.IcaClient(ICA)
    with pytest.raises(ValueError, match="http"):
        ita.IcaClient("ica.example.org", api_key=API_KEY)
    with pytest.raises(ValueError, match="needs an api_key"):
        ita.IcaClient(ICA, access_token="jwt", exchange_api_key=True)


async def test_a_limiter_of_ours_paces_every_attempt(http: FakeTransport) -> None:
    """limiter= replaces the adaptive one: every attempt takes a slot, answers are reported."""
    limiter = RecordingLimiter()
    http.get(URL, status=429, payload=problem(429), headers={"Retry-After": "3"})
    http.get(URL, payload=data_transfer())
    async with ita.IcaClient(
        ICA,
        transport=http,
        api_key=API_KEY,
        limiter=limiter,
        retry=ita.RetryPolicy.no_wait(),
    ) as ica:
        assert ica.limiter is limiter
        assert ica.with_options(retry=ita.RetryPolicy.never()).limiter is limiter
        await ica.data_transfers.get(PROJECT, UUID)
    assert limiter.calls == [
        ("slot", None),
        ("throttle", None),
        ("pause", 0.0),
        ("slot", None),
        ("success", None),
    ]


async def test_a_callers_limiter_and_transport_stay_open(http: FakeTransport) -> None:
    """Closing the client leaves a limiter and a transport it was given open."""
    limiter = RecordingLimiter()
    async with ita.IcaClient(ICA, transport=http, api_key=API_KEY, limiter=limiter):
        pass
    assert not limiter.closed
    assert not http.closed


def test_limiter_must_implement_the_protocol() -> None:
    """A limiter without the protocol's methods is refused, by name (RequestValidationError)."""
    with pytest.raises(ita.RequestValidationError, match="RateLimiter"):
        ita.IcaClient(ICA, api_key=API_KEY, limiter=object())  # type: ignore[arg-type]


def test_adaptive_limiter_satisfies_the_protocol() -> None:
    """The in-process limiter is a RateLimiter (the seam a shared limiter implements)."""
    assert isinstance(ita.AdaptiveRateLimiter(rate=5), ita.RateLimiter)
