"""A server that is down is recognised early: one clear error instead of retrying everything."""

from __future__ import annotations

import pickle

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.concurrency import gather_bounded

from ..unit.fakes import DownTransport, FakeClock, FakeTransport
from .helpers import API_KEY, PROJECT, UUID, data_transfer

BASE = "https://user:pw@ica.down.test/ica/rest"
URL = f"https://user:pw@ica.down.test/ica/rest/api/projects/{PROJECT}/dataTransfers/{UUID}"


def client(transport: ita.Transport, clock: FakeClock, **kwargs: object) -> ita.IcaClient:
    """A client on the fake clock with the default retry policy (no jitter)."""
    return ita.IcaClient(
        BASE,
        api_key=API_KEY,
        transport=transport,
        clock=clock,
        sleep=clock.sleep,
        retry=ita.RetryPolicy(jitter=False),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_thousand_calls_stop_early_with_one_clear_error() -> None:
    """Every call of a 1,000-call run fails fast once 10 s of refused connections have passed."""
    clock = FakeClock()
    down = DownTransport(clock, cost=0.05)
    errors: list[BaseException] = []

    async def one(i: int) -> None:
        try:
            await ica.data_transfers.get(PROJECT, f"t-{i}")
        except ita.APIError as exc:
            errors.append(exc)

    async with client(down, clock) as ica:
        await gather_bounded(one, range(1000), limit=64)
    assert len(errors) == 1000
    assert all(isinstance(e, ita.ServerUnreachableError) for e in errors)
    # Far fewer attempts than 1,000 calls x 5 attempts, and no more fake time than needed.
    assert down.attempts < 1000
    # Calls sleeping in backoff are woken when the server is declared down.
    assert clock.now - 1000.0 < 15
    text = str(errors[-1])
    assert "https://ica.down.test/ica/rest" in text
    assert "pw" not in text
    assert API_KEY not in text


async def test_a_single_call_gives_up_after_the_threshold() -> None:
    """One call retries while under the threshold, then raises ServerUnreachableError."""
    clock = FakeClock()
    down = DownTransport(clock, cost=4.0)
    async with client(down, clock, unreachable_after=5.0) as ica:
        with pytest.raises(ita.ServerUnreachableError) as info:
            await ica.data_transfers.get(PROJECT, UUID)
    assert info.value.base_url == "https://ica.down.test/ica/rest"
    assert isinstance(info.value, ita.APIConnectionError)
    # failures at +4 s, +8.5 s (4.5 s after the first: retried) and +13.5 s (9.5 s: down)
    assert down.attempts == 3
    assert ica.metrics.errors == 1


async def test_threshold_none_keeps_the_usual_retries() -> None:
    """unreachable_after=None: the last connection error comes after every attempt."""
    clock = FakeClock()
    down = DownTransport(clock, cost=4.0)
    async with client(down, clock, unreachable_after=None) as ica:
        with pytest.raises(ita.APIConnectionError) as info:
            await ica.data_transfers.get(PROJECT, UUID)
    assert not isinstance(info.value, ita.ServerUnreachableError)
    assert down.attempts == 5


async def test_a_server_that_answered_once_is_never_declared_down() -> None:
    """After one answer, later refused connections get the usual retries, however long."""
    clock = FakeClock()
    http = FakeTransport(clock)
    refused = ita.APIConnectionError("GET x: refused", connect_failed=True)
    http.get(URL, payload=data_transfer())
    http.get(URL, exception=refused, repeat=True)
    async with client(http, clock, unreachable_after=1.0) as ica:
        await ica.data_transfers.get(PROJECT, UUID)
        clock.now += 3600
        with pytest.raises(ita.APIConnectionError) as info:
            await ica.data_transfers.get(PROJECT, UUID)
    assert not isinstance(info.value, ita.ServerUnreachableError)
    assert len(http.sent) == 6


def test_threshold_is_part_of_the_config() -> None:
    """ClientConfig carries the threshold (default 10 s); negative values are refused."""
    assert ita.ClientConfig("https://h").unreachable_after == 10.0
    with pytest.raises(ValueError, match="unreachable_after"):
        ita.ClientConfig("https://h", unreachable_after=-1)
    ica = ita.IcaClient("https://h/ica/rest", api_key=API_KEY, unreachable_after=2.5)
    assert ica.config.unreachable_after == 2.5


def test_the_error_survives_pickling() -> None:
    """ServerUnreachableError (and connect_failed) survive a round trip through pickle."""
    error = ita.ServerUnreachableError("cannot reach h", base_url="https://h", url="https://h/x")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.base_url) == (type(error), str(error), "https://h")
    assert again.connect_failed


async def test_calls_waiting_in_backoff_are_woken_when_the_server_is_declared_down() -> None:
    """A call sleeping before its next attempt fails as soon as another call declares the server
    down, instead of finishing a backoff of up to max_backoff seconds."""
    clock = FakeClock()
    down = DownTransport()
    sleeping = anyio.Event()

    async def endless(seconds: float) -> None:
        sleeping.set()
        await anyio.sleep_forever()  # a backoff that only ends when it is cut short

    errors: list[BaseException] = []

    async def call(ica: ita.IcaClient, name: str) -> None:
        try:
            await ica.data_transfers.get(PROJECT, name)
        except ita.APIError as exc:
            errors.append(exc)

    async with ita.IcaClient(
        BASE, api_key=API_KEY, transport=down, clock=clock, sleep=endless, unreachable_after=5
    ) as ica:
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, ica, "first")
                await sleeping.wait()  # the first call failed once and waits to retry
                clock.now += 6
                tg.start_soon(call, ica, "second")
    assert [type(e) for e in errors] == [ita.ServerUnreachableError] * 2
