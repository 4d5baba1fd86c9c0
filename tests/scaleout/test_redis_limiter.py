"""RedisRateLimiter against a real redis-server: one budget for every limiter with one name."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator

import anyio
import pytest

import ica_tapis_async as ita
from tests.servers import RedisServer, free_port


@pytest.fixture
async def pair(
    redis_server: RedisServer, limit_name: str
) -> AsyncIterator[list[ita.RedisRateLimiter]]:
    """Two limiters with one name: two workers of one fleet."""
    limiters = [
        ita.RedisRateLimiter(redis_server.url, limit_name, rate=40, burst=1, min_rate=0.5)
        for _ in range(2)
    ]
    yield limiters
    for limiter in limiters:
        await limiter.aclose()


async def _take(limiter: ita.RedisRateLimiter, times: list[float]) -> None:
    async with limiter.slot():
        times.append(time.monotonic())


async def test_limiters_with_one_name_share_one_rate(pair: list[ita.RedisRateLimiter]) -> None:
    times: list[float] = []
    start = time.monotonic()
    async with anyio.create_task_group() as tg:
        for i in range(24):
            tg.start_soon(_take, pair[i % 2], times)
    # 24 grants at 40/s with a burst of 1 need 23 intervals, whichever worker takes them.
    assert time.monotonic() - start >= 23 / 40 * 0.95
    assert pair[0].rate == pair[1].rate == 40


async def test_other_names_have_their_own_budget(redis_server: RedisServer) -> None:
    a = ita.RedisRateLimiter(redis_server.url, "budget:a", rate=2, burst=1)
    b = ita.RedisRateLimiter(redis_server.url, "budget:b", rate=2, burst=1)
    try:
        async with a.slot():
            pass
        with anyio.fail_after(0.3):  # a's next token is 0.5 s away; b's first is now
            async with b.slot():
                pass
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_waiter_sleeps_instead_of_polling(
    redis_server: RedisServer, limit_name: str
) -> None:
    import redis

    stats = redis.Redis.from_url(redis_server.url)
    before = int(stats.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=10, burst=1)
    try:
        for _ in range(4):
            async with limiter.slot():
                pass
    finally:
        await limiter.aclose()
    after = int(stats.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
    # Each grant is one script call, each wait one more: told how long, the waiter sleeps once.
    assert after - before <= 4 * 2 + 1


async def test_one_congestion_event_cuts_the_shared_rate_once(
    pair: list[ita.RedisRateLimiter],
) -> None:
    a, b = pair

    async def throttled(limiter: ita.RedisRateLimiter) -> None:
        async with limiter.slot():
            await anyio.sleep(0.05)
        await limiter.record_throttle()

    async with anyio.create_task_group() as tg:  # both requests were sent before any cut
        tg.start_soon(throttled, a)
        tg.start_soon(throttled, b)
    stats = await a.stats()
    assert stats["throttles"] == 2
    first_cut = stats["rate"]
    assert isinstance(first_cut, float)
    assert first_cut < 40
    assert a.rate == b.rate == first_cut  # both workers pace at the one shared rate
    # A request sent after the cut and throttled again is a new event: a second cut.
    await throttled(b)
    second = await a.stats()
    assert isinstance(second["rate"], float)
    assert second["rate"] < first_cut


async def test_recovery_is_shared(
    pair: list[ita.RedisRateLimiter], redis_server: RedisServer
) -> None:
    import redis

    a, b = pair
    async with a.slot():
        pass
    await a.record_throttle()
    assert b.rate == 40  # b has not asked Redis since
    async with b.slot():
        pass
    assert b.rate is not None
    assert b.rate < 40
    # Move the cut a minute into the past: the cubic is then beyond the configured rate.
    key = f"ita:limit:{{{a.name}}}"
    client = redis.Redis.from_url(redis_server.url)
    last = float(client.hget(key, "last_throttle") or 0)
    client.hset(key, "last_throttle", f"{last - 60:.6f}")
    await a.record_success()
    async with b.slot():
        pass
    assert b.rate == 40
    assert (await b.stats())["rate"] == 40


async def test_retry_after_pauses_every_worker(pair: list[ita.RedisRateLimiter]) -> None:
    a, b = pair
    await a.pause_for(0.4)
    start = time.monotonic()
    async with b.slot():
        pass
    assert time.monotonic() - start >= 0.35


async def test_discovers_the_rate_from_throttles(
    redis_server: RedisServer, limit_name: str
) -> None:
    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=None, burst=5)
    try:
        for _ in range(5):
            async with limiter.slot():
                pass
        # Slow start: paced from 10/s, never faster than twice what was really sent.
        assert limiter.rate is not None
        assert 10 <= limiter.rate <= 20
        before = limiter.rate
        await limiter.record_throttle()
        stats = await limiter.stats()
        assert limiter.rate == stats["rate"]
        assert limiter.rate is not None
        assert 0 < limiter.rate < before
    finally:
        await limiter.aclose()


_HOLDER = """
import asyncio, sys
import ica_tapis_async as ita

async def main():
    limiter = ita.RedisRateLimiter(sys.argv[1], sys.argv[2], rate=100, max_in_flight=2,
                                   lease_ttl=0.6)
    async def hold():
        async with limiter.slot():
            await asyncio.sleep(3600)
    tasks = [asyncio.create_task(hold()) for _ in range(2)]
    while limiter.in_flight < 2:
        await asyncio.sleep(0.01)
    print("holding", flush=True)
    await asyncio.gather(*tasks)

asyncio.run(main())
"""


async def test_a_killed_worker_does_not_keep_its_slots(
    redis_server: RedisServer, limit_name: str
) -> None:
    holder = await anyio.open_process(
        [sys.executable, "-c", _HOLDER, redis_server.url, limit_name], stderr=None
    )
    try:
        assert holder.stdout is not None
        with anyio.fail_after(20):
            assert (await holder.stdout.receive()).strip() == b"holding"
        limiter = ita.RedisRateLimiter(
            redis_server.url, limit_name, rate=100, max_in_flight=2, lease_ttl=0.6
        )
        try:
            # While the holder lives, its heartbeat renews the leases past their lifetime.
            with pytest.raises(TimeoutError), anyio.fail_after(1.0):
                async with limiter.slot():
                    pass
            holder.kill()
            await holder.wait()
            start = time.monotonic()
            with anyio.fail_after(2.0):
                async with limiter.slot():
                    pass
            assert time.monotonic() - start <= 0.6 + 0.1
        finally:
            await limiter.aclose()
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.aclose()


async def test_unreachable_redis_fails_clearly_without_the_password() -> None:
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    limiter = ita.RedisRateLimiter(url, "x", rate=5, on_unavailable="fail", timeout=0.5)
    try:
        assert "s3cret" not in repr(limiter)
        with pytest.raises(ita.SharedLimiterUnavailableError) as caught:
            async with limiter.slot():
                pass
        assert "s3cret" not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)
        assert "'x'" in str(caught.value)
    finally:
        await limiter.aclose()


async def test_unreachable_redis_falls_back_to_a_local_share_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    limiter = ita.RedisRateLimiter(url, "x", rate=40, fallback_share=0.25, timeout=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="ica_tapis_async.limiter"):
            start = time.monotonic()
            for _ in range(12):
                async with limiter.slot():
                    pass
        assert limiter.degraded
        assert limiter.rate == 10
        # 10/s locally (burst 3 = 10 * 0.25 rounded up): 12 grants need about 0.9 s.
        assert time.monotonic() - start >= 0.8
        assert "falling back" in caplog.text
        assert "s3cret" not in caplog.text
    finally:
        await limiter.aclose()


async def test_redis_restarted_mid_run(
    redis_server: RedisServer, limit_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, rate=200, retry_unavailable_s=0.2, timeout=0.5
    )
    try:
        with caplog.at_level(logging.WARNING, logger="ica_tapis_async.limiter"):
            for _ in range(5):
                async with limiter.slot():
                    pass
            redis_server.stop(keep=True)
            for _ in range(5):
                async with limiter.slot():
                    pass
            assert limiter.degraded
            redis_server.start()
            with anyio.fail_after(5):
                while limiter.degraded:
                    async with limiter.slot():
                        await anyio.sleep(0.05)
        assert (await limiter.stats())["configured"] == 200  # state rebuilt from the config
        assert "falling back" in caplog.text
        assert "reachable again" in caplog.text
    finally:
        await limiter.aclose()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": "http://h"}, "redis://"),
        ({"url": "redis://:pw@127.0.0.1:notaport/0"}, "not a valid Redis URL"),
        ({"name": ""}, "name"),
        ({"rate": 0}, "rate"),
        ({"burst": 0}, "burst"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"lease_ttl": -1}, "lease_ttl"),
        ({"fallback_share": 2}, "fallback_share"),
        ({"fallback_share": float("nan")}, "fallback_share"),
        ({"on_unavailable": "ignore"}, "on_unavailable"),
        ({"timeout": 0}, "timeout must be a finite number > 0, not 0"),
        ({"timeout": -1}, "timeout"),
        ({"retry_unavailable_s": 0}, "retry_unavailable_s"),
        ({"burst": float("nan")}, "burst must be a whole number >= 1, not nan"),
        ({"burst": float("inf")}, "burst"),
        ({"burst": 2.5}, "burst"),
        ({"max_in_flight": float("inf")}, "max_in_flight must be a whole number"),
        ({"rate": float("inf")}, "rate must be a finite number"),
        ({"min_rate": float("nan")}, "min_rate"),
        ({"lease_ttl": True}, "lease_ttl"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"url": "redis://127.0.0.1:1/0", "name": "n"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ita.RedisRateLimiter(**args)  # type: ignore[arg-type]


async def test_a_cut_holds_when_workers_are_told_slightly_different_rates(
    redis_server: RedisServer, limit_name: str
) -> None:
    a = ita.RedisRateLimiter(redis_server.url, limit_name, rate=100, burst=1)
    b = ita.RedisRateLimiter(redis_server.url, limit_name, rate=100.5, burst=1)
    try:
        async with a.slot():
            pass
        await a.record_throttle()
        cut = (await a.stats())["rate"]
        assert isinstance(cut, float)
        assert cut < 100
        for _ in range(3):  # the other worker's requests carry its own configuration
            async with b.slot():
                pass
            async with a.slot():
                pass
        assert (await a.stats())["rate"] == cut  # not reset to 100 or 100.5 by either
        c = ita.RedisRateLimiter(redis_server.url, limit_name, rate=cut / 2, burst=1)
        try:
            async with c.slot():  # a lower told rate does lower it
                pass
            assert (await c.stats())["rate"] == cut / 2
        finally:
            await c.aclose()
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_waiter_for_an_in_flight_slot_looks_again_at_most_five_times_a_second(
    redis_server: RedisServer, limit_name: str
) -> None:
    import redis

    holder = ita.RedisRateLimiter(redis_server.url, limit_name, max_in_flight=1, lease_ttl=30)
    waiter = ita.RedisRateLimiter(redis_server.url, limit_name, max_in_flight=1, lease_ttl=30)
    stats = redis.Redis.from_url(redis_server.url)
    try:
        async with holder.slot():
            before = int(stats.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
            with anyio.move_on_after(2.0):
                async with waiter.slot():
                    pytest.fail("the only slot is held")
            after = int(stats.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))
        # Backing off 25, 50, 100, 200 ms then every 200 ms: about 12 looks in 2 s, not 100.
        assert after - before <= 16
        with anyio.fail_after(1.0):  # once released, the slot is taken soon
            async with waiter.slot():
                pass
    finally:
        stats.close()
        await holder.aclose()
        await waiter.aclose()
