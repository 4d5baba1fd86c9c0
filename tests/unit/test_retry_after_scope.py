"""What a ``Retry-After`` may pause: the whole client on a 429 or 503 only, never past a deadline.

Issue 20, point 4. A pause holds back every caller of a client, so only an answer that speaks
for the whole service (a throttle, an outage) may start one; and a caller whose own deadline
falls inside a pause gets the throttle at once instead of waiting past its deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel
import orjson
import pytest

import ica_tapis_async as ita
from ica_tapis_async._pause import ClientPause

from ..resources.helpers import BATCH, ICA, PROJECT, batch, problem
from .fakes import FakeClock, FakeTransport, RecordingLimiter

URL = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch/{BATCH}"
POLICY = ita.RetryPolicy(max_attempts=3, total_timeout=None, initial_backoff=1, jitter=False)


@pytest.fixture
def clock() -> FakeClock:
    """Every wait (backoff, pause, pacing) advances this clock instead of waiting."""
    return FakeClock()


@pytest.fixture
def http(clock: FakeClock) -> FakeTransport:
    """The fake server."""
    return FakeTransport(clock)


@pytest.fixture
async def ica(http: FakeTransport, clock: FakeClock) -> AsyncIterator[ita.IcaClient]:
    """A client with its own limiter, on the fake clock."""
    async with ita.IcaClient(
        ICA, api_key="k", retry=POLICY, transport=http, clock=clock, sleep=clock.sleep
    ) as client:
        yield client


@pytest.mark.parametrize("status", [400, 500, 502, 504])
async def test_a_retry_after_on_other_statuses_pauses_nothing(
    http: FakeTransport, clock: FakeClock, status: int
) -> None:
    """A 400/500/502/504 carrying Retry-After: 600 neither pauses the limiter nor is waited."""
    limiter = RecordingLimiter()
    http.get(URL, status=status, payload=problem(status), headers={"Retry-After": "600"})
    http.get(URL, status=200, payload=batch())
    async with ita.IcaClient(
        ICA, api_key="k", retry=POLICY, transport=http, limiter=limiter,
        clock=clock, sleep=clock.sleep,
    ) as ica:  # fmt: skip
        try:
            await ica.data_linking_batches.get(PROJECT, BATCH)
        except ita.APIStatusError as exc:
            assert exc.status == status  # 400 and 500 are not retried
    assert [c for c in limiter.calls if c[0] == "pause"] == []
    assert all(s < 600 for s in clock.sleeps)  # a retried 502/504 backs off, 1 s
    assert clock.now < 1600


@pytest.mark.parametrize("status", [429, 503])
async def test_a_retry_after_on_a_throttle_or_outage_pauses_the_client(
    http: FakeTransport, clock: FakeClock, status: int
) -> None:
    """A 429 or 503 with Retry-After: 30 pauses the whole limiter for 30 s."""
    limiter = RecordingLimiter()
    http.get(URL, status=status, payload=problem(status), headers={"Retry-After": "30"})
    http.get(URL, status=200, payload=batch())
    async with ita.IcaClient(
        ICA, api_key="k", retry=POLICY, transport=http, limiter=limiter,
        clock=clock, sleep=clock.sleep,
    ) as ica:  # fmt: skip
        await ica.data_linking_batches.get(PROJECT, BATCH)
    assert ("pause", 30.0) in limiter.calls


async def _throttle(http: FakeTransport, ica: ita.IcaClient, seconds: int) -> None:
    """One caller is told 429 with Retry-After and gives up: the pause stays in force."""
    http.get(URL, status=429, payload=problem(429), headers={"Retry-After": str(seconds)})
    with pytest.raises(ita.RateLimitError):
        await ica.data_linking_batches.get(PROJECT, BATCH, max_retries=0)


async def test_a_caller_whose_total_timeout_ends_inside_a_pause_fails_at_once(
    http: FakeTransport, ica: ita.IcaClient, clock: FakeClock
) -> None:
    """total_timeout=10 during a 60 s pause: RateLimitError(retry_after=60) now, nothing sent."""
    await _throttle(http, ica, 60)
    sent, now = len(http.sent), clock.now
    http.get(URL, status=200, payload=batch())
    with pytest.raises(ita.RateLimitError) as caught:
        await ica.data_linking_batches.get(PROJECT, BATCH, retry=ita.RetryPolicy(total_timeout=10))
    assert caught.value.retry_after == pytest.approx(60.0)
    assert "paused" in str(caught.value)
    assert (len(http.sent), clock.now) == (sent, now)  # nothing sent, nothing waited


async def test_a_caller_whose_per_call_timeout_ends_inside_a_pause_fails_at_once(
    http: FakeTransport, ica: ita.IcaClient, clock: FakeClock
) -> None:
    """A per-call timeout=5 during a 60 s pause: RateLimitError at once."""
    await _throttle(http, ica, 60)
    sent, now = len(http.sent), clock.now
    http.get(URL, status=200, payload=batch())
    with pytest.raises(ita.RateLimitError) as caught:
        await ica.data_linking_batches.get(PROJECT, BATCH, timeout=5)
    assert caught.value.retry_after == pytest.approx(60.0)
    assert (len(http.sent), clock.now) == (sent, now)


async def test_a_caller_with_time_enough_waits_the_pause_out(
    http: FakeTransport, ica: ita.IcaClient, clock: FakeClock
) -> None:
    """Without a deadline inside the pause the caller waits until it ends, then sends."""
    await _throttle(http, ica, 60)
    now = clock.now
    http.get(URL, status=200, payload=batch())
    got = await ica.data_linking_batches.get(PROJECT, BATCH, timeout=90)
    assert got.id == BATCH
    assert http.sent[-1].at == pytest.approx(now + 60)


async def test_a_with_options_copy_sees_the_pause(
    http: FakeTransport, ica: ita.IcaClient, clock: FakeClock
) -> None:
    """The pause is client-wide: a with_options copy with a short deadline fails at once too."""
    await _throttle(http, ica, 60)
    short = ica.with_options(retry=ita.RetryPolicy(total_timeout=30))
    with pytest.raises(ita.RateLimitError):
        await short.data_linking_batches.get(PROJECT, BATCH)


class _HeldTransport:
    """The first request hangs until ``release`` is set, then is throttled for 60 s."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.inside = anyio.Event()
        self.release = anyio.Event()

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> ita.RawResponse:
        """Hold the first request, throttle it; answer the others."""
        self.sent.append(url)
        if len(self.sent) == 1:
            self.inside.set()
            await self.release.wait()
            return ita.RawResponse(429, "", {"Retry-After": "60"}, orjson.dumps(problem(429)), url)
        return ita.RawResponse(
            200, "OK", {"Content-Type": "application/json"}, orjson.dumps(batch()), url
        )

    async def aclose(self) -> None:
        """Nothing to close."""


async def test_a_pause_that_begins_while_a_caller_waits_for_a_slot_stops_its_wait(
    clock: FakeClock,
) -> None:
    """B waits for the only in-flight slot; A's answer pauses the client 60 s past B's deadline:
    B fails at once with RateLimitError, unsent, and the slot is free for C afterwards."""
    transport = _HeldTransport()
    outcomes: dict[str, object] = {}
    async with ita.IcaClient(
        ICA, api_key="k", retry=POLICY, transport=transport, clock=clock, sleep=clock.sleep,
        rate_limit=ita.RateLimitPolicy(max_in_flight=1),
    ) as ica:  # fmt: skip
        limiter = ica.limiter
        assert isinstance(limiter, ita.AdaptiveRateLimiter)
        slots = limiter._slots
        assert slots is not None

        async def call(name: str, **options: Any) -> None:
            try:
                outcomes[name] = await ica.data_linking_batches.get(PROJECT, BATCH, **options)
            except ita.RateLimitError as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(call, "A", max_retries=0))
            await transport.inside.wait()
            tg.start_soon(partial(call, "B", retry=ita.RetryPolicy(total_timeout=10)))
            while slots.statistics().tasks_waiting < 1:  # B is queued for the slot A holds
                await anyio.lowlevel.checkpoint()
            transport.release.set()
        b = outcomes["B"]
        assert isinstance(b, ita.RateLimitError)
        assert b.retry_after == pytest.approx(60.0)
        assert (len(transport.sent), clock.now) == (1, 1000.0)  # B sent nothing, waited nothing
        got = await ica.data_linking_batches.get(PROJECT, BATCH)  # C: the slot was given back
    assert got.id == BATCH
    assert clock.now == pytest.approx(1060.0)  # C waited the pause out


async def test_a_zero_pause_stops_no_waiter() -> None:
    """Retry-After: 0 is no pause: a waiter, even one at its limit, is not stopped."""
    pause = ClientPause()
    scope = anyio.CancelScope()
    pause.watch(scope, 1000.0)
    pause.note(1000.0, 0.0, 429)
    assert not scope.cancel_called
    pause.note(1000.0, 5.0, 429)
    assert scope.cancel_called
