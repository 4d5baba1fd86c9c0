"""The ``before_attempt`` request option: asked before every attempt, and able to stop one.

The orchestrator renews its chunk lease through it right before each create attempt, so a
worker whose lease was taken over during a long wait never sends. These tests pin the
dispatcher's side of that promise on a fake transport.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import ica_tapis_async as ita

from ..resources.helpers import BATCH, ICA, PROJECT, batch, problem
from .fakes import FakeClock, FakeTransport, RecordingLimiter

LINK_URL = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
GET_URL = f"{LINK_URL}/{BATCH}"


class LeaseGone(Exception):
    """What a hook raises when the caller's reason to send is gone."""


@pytest.fixture
def clock() -> FakeClock:
    """Sleeps (backoffs, Retry-After) advance this clock instead of waiting."""
    return FakeClock()


@pytest.fixture
def http(clock: FakeClock) -> FakeTransport:
    """The fake server."""
    return FakeTransport(clock)


@pytest.fixture
def limiter() -> RecordingLimiter:
    """A limiter that records when slots are granted."""
    return RecordingLimiter()


@pytest.fixture
async def ica(
    http: FakeTransport, clock: FakeClock, limiter: RecordingLimiter
) -> AsyncIterator[ita.IcaClient]:
    """A client whose retries back off on the fake clock."""
    policy = ita.RetryPolicy(max_attempts=4, total_timeout=None, initial_backoff=1, jitter=False)
    async with ita.IcaClient(
        ICA, api_key="k", retry=policy, transport=http, limiter=limiter,
        clock=clock, sleep=clock.sleep,
    ) as client:  # fmt: skip
        yield client


async def test_the_hook_is_awaited_before_every_attempt_after_the_slot_is_granted(
    http: FakeTransport, ica: ita.IcaClient, limiter: RecordingLimiter
) -> None:
    http.get(GET_URL, status=503, payload=problem(503))
    http.get(GET_URL, status=429, payload=problem(429), headers={"Retry-After": "6"})
    http.get(GET_URL, status=200, payload=batch())
    seen: list[int] = []

    async def hook() -> None:
        seen.append(len(http.sent))  # requests already sent when the hook is asked
        limiter.calls.append(("hook", None))

    got = await ica.data_linking_batches.get(PROJECT, BATCH, before_attempt=hook)
    assert got.id == BATCH
    assert seen == [0, 1, 2]  # once before each of the three attempts, before it left
    order = [name for name, _ in limiter.calls if name in ("slot", "hook")]
    assert order == ["slot", "hook"] * 3  # each time once the limiter granted the attempt


async def test_a_raising_hook_ends_the_call_with_its_error_and_nothing_more_is_sent(
    http: FakeTransport, ica: ita.IcaClient, clock: FakeClock
) -> None:
    # A create answered 429 with a long Retry-After: while the client waits, the reason to send
    # goes away (the lease is taken over); the retry must not leave.
    http.post(LINK_URL, status=429, payload=problem(429), headers={"Retry-After": "6"})
    http.post(LINK_URL, status=201, payload=batch())
    calls = 0

    async def hook() -> None:
        nonlocal calls
        calls += 1
        if clock.now > 1000.0:  # after the Retry-After wait
            raise LeaseGone("taken over")

    with pytest.raises(LeaseGone, match="taken over"):
        await ica.data_linking_batches.create(
            PROJECT, ["fil.1"], retry_safe=True, before_attempt=hook
        )
    assert calls == 2
    assert [r.method for r in http.sent] == ["POST"]  # only the first, throttled attempt
    assert clock.sleeps == [6.0]  # it did wait out the Retry-After before asking again
    assert ica.metrics.requests == 1
    assert ica.metrics.errors == 1


async def test_a_hook_that_refuses_the_first_attempt_sends_nothing(
    http: FakeTransport, ica: ita.IcaClient, limiter: RecordingLimiter
) -> None:
    http.post(LINK_URL, status=201, payload=batch())

    async def hook() -> None:
        raise LeaseGone("never ours")

    with pytest.raises(LeaseGone):
        await ica.data_linking_batches.create(PROJECT, ["fil.1"], before_attempt=hook)
    assert http.sent == []
    assert ica.metrics.requests == 0
    assert ("success", None) not in limiter.calls


async def test_a_connection_error_from_the_hook_is_not_retried_as_the_requests_own(
    http: FakeTransport, ica: ita.IcaClient, clock: FakeClock
) -> None:
    # The hook talks to something else (a journal): its connection error is not the server's,
    # so it must not be retried (or counted as a lost answer) as if the POST had failed.
    http.post(LINK_URL, status=201, payload=batch())
    calls = 0
    retried: list[Exception] = []

    async def hook() -> None:
        nonlocal calls
        calls += 1
        raise ita.APIConnectionError("journal down", method="POST")

    with pytest.raises(ita.APIConnectionError, match="journal down"):
        await ica.data_linking_batches.create(
            PROJECT, ["fil.1"], retry_safe=True, before_attempt=hook, on_retry=retried.append
        )
    assert calls == 1
    assert retried == []
    assert http.sent == []
    assert clock.sleeps == []


async def test_without_a_hook_every_attempt_is_sent_as_before(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    http.post(LINK_URL, status=503, payload=problem(503))
    http.post(LINK_URL, status=201, payload=batch())
    got = await ica.data_linking_batches.create(PROJECT, ["fil.1"], retry_safe=True)
    assert got.id == BATCH
    assert len(http.sent) == 2
