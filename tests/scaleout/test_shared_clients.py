"""Clients in one budget: IcaClient and TapisClient with RedisRateLimiter against the simulator."""

from __future__ import annotations

import time

import anyio

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator
from tests.servers import RedisServer

PROJECT = "3f1e8d0a-0000-4000-8000-00000000e0a1"
FAST = ita.RetryPolicy(max_attempts=20, total_timeout=60, initial_backoff=0.01, max_backoff=0.2)


async def _hammer(ica: ita.IcaClient, transfer_id: str, count: int) -> None:
    async def one() -> None:
        await ica.data_transfers.get(PROJECT, transfer_id)

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(one)


async def _first_transfer(sim: Simulator) -> str:
    async with ita.IcaClient(sim.ica_url, api_key="other-key") as probe:
        async for transfer in probe.data_transfers.list(PROJECT, page_size=1):
            return str(transfer.id)
    raise AssertionError("the simulator seeded no transfers")


async def test_two_clients_told_the_limit_stay_under_it(
    redis_server: RedisServer, limit_name: str
) -> None:
    rate = 40.0
    async with Simulator(seed=3, rate_limit=rate, retry_after="auto") as sim:
        transfer_id = await _first_transfer(sim)
        sim.reset_stats()
        limiters = [
            ita.RedisRateLimiter(redis_server.url, limit_name, rate=rate, burst=2) for _ in range(2)
        ]
        async with (
            ita.IcaClient(sim.ica_url, api_key="k", limiter=limiters[0], retry=FAST) as one,
            ita.IcaClient(sim.ica_url, api_key="k", limiter=limiters[1], retry=FAST) as two,
        ):
            start = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_hammer, one, transfer_id, 30)
                tg.start_soon(_hammer, two, transfer_id, 30)
            elapsed = time.monotonic() - start
        for limiter in limiters:  # a limiter the caller passed stays the caller's to close
            await limiter.aclose()
    assert sim.stats.throttled == 0
    assert sim.stats.requests == 60
    assert elapsed >= (60 - 2) / rate * 0.95


async def test_two_clients_discover_the_limit_together(
    redis_server: RedisServer, limit_name: str
) -> None:
    rate = 15.0  # slow start from 10/s spends its burst within a few seconds
    async with Simulator(seed=3, rate_limit=rate, retry_after="auto") as sim:
        transfer_id = await _first_transfer(sim)
        sim.reset_stats()
        limiters = [ita.RedisRateLimiter(redis_server.url, limit_name) for _ in range(2)]
        async with (
            ita.IcaClient(sim.ica_url, api_key="k", limiter=limiters[0], retry=FAST) as one,
            ita.IcaClient(sim.ica_url, api_key="k", limiter=limiters[1], retry=FAST) as two,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(_hammer, one, transfer_id, 50)
            tg.start_soon(_hammer, two, transfer_id, 50)
        stats = await limiters[0].stats()
        for limiter in limiters:
            await limiter.aclose()
    assert sim.stats.requests - sim.stats.throttled == 100  # every call got its answer
    assert sim.stats.throttled > 0  # unpaced at first: the limit was found by the 429s
    # Both workers' throttles were counted in one place, and the shared rate came down.
    assert stats["throttles"] == sim.stats.throttled
    assert isinstance(stats["rate"], float)
    assert stats["rate"] < 3 * rate


async def test_a_tapis_client_takes_a_shared_limiter(
    redis_server: RedisServer, limit_name: str
) -> None:
    async with Simulator(seed=3) as sim:
        limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=25, burst=1)
        try:
            async with ita.TapisClient(sim.tapis_url, token="t", limiter=limiter) as tapis:
                start = time.monotonic()
                for _ in range(3):
                    async for _task in tapis.transfers.list_recent(page_size=1):
                        break
                assert time.monotonic() - start >= 2 / 25 * 0.9
            assert (await limiter.stats())["configured"] == 25
        finally:
            await limiter.aclose()
