"""Outages and refusals of the shared servers: clear typed errors with the server's reason."""

from __future__ import annotations

import logging
import pickle
import re
import time

import anyio
import anyio.to_thread
import pytest

import ica_tapis_async as ita
from tests.servers import PostgresServer, RedisServer


async def test_a_journal_that_gives_up_says_why_not_pool_timeout(
    pg_dsn: str, postgres_server: PostgresServer
) -> None:
    journal = ita.PostgresJournal(pg_dsn, connect_timeout=1, retries=1)
    try:
        await journal.open_run("link", "p", "r", "f")
        postgres_server.stop(keep=True)  # a long outage: the pool's connection dies with it
        try:
            with pytest.raises(ita.JournalUnavailableError) as caught:
                await journal.get_run("r")
        finally:
            await anyio.to_thread.run_sync(postgres_server.start)
    finally:
        await journal.aclose()
    error = caught.value
    assert not error.permanent
    assert "Connection refused" in str(error)  # the reason, not "couldn't get a connection"
    assert str(error).startswith(f"journal {journal.url}: unavailable after 2 tries:")
    assert type(error.__cause__).__module__.split(".")[0] not in ("psycopg", "psycopg_pool")
    copy = pickle.loads(pickle.dumps(error))  # e.g. from a worker process
    assert (str(copy), copy.permanent) == (str(error), False)


async def test_a_throttle_log_line_prints_the_rate_as_a_number(
    redis_server: RedisServer, limit_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=40, burst=1)
    try:
        async with limiter.slot():
            pass
        with caplog.at_level(logging.INFO, logger="ica_tapis_async.limiter"):
            await limiter.record_throttle()
    finally:
        await limiter.aclose()
    [line] = [r.getMessage() for r in caplog.records if "rate cut" in r.getMessage()]
    assert re.search(r"rate cut to \d+\.\d/s for all workers$", line), line


async def _grant(limiter: ita.RedisRateLimiter) -> None:
    async with limiter.slot():
        pass


async def test_a_discovered_rate_falls_back_to_a_share_of_the_last_one(
    redis_server: RedisServer, limit_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, burst=1, fallback_share=0.5, timeout=0.5
    )
    try:
        await _grant(limiter)
        await limiter.record_throttle()  # the end of slow start: 0.4 x 10/s
        assert limiter.rate == pytest.approx(4.0)
        redis_server.stop(keep=True)
        try:
            with caplog.at_level(logging.WARNING, logger="ica_tapis_async.limiter"):
                start = time.monotonic()
                for _ in range(4):
                    await _grant(limiter)
                elapsed = time.monotonic() - start
        finally:
            redis_server.start()
    finally:
        await limiter.aclose()
    assert limiter.degraded
    assert limiter.rate == pytest.approx(2.0)  # half of the last shared rate, not unpaced
    assert elapsed >= 3 / 2.0 * 0.95  # burst 1: four grants at 2/s take 1.5 s
    assert "falling back to 2.0/s in this process (0.5 of 4.0/s)" in caplog.text


async def test_a_redis_restarted_empty_starts_from_the_last_cut(
    redis_server: RedisServer, limit_name: str
) -> None:
    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, burst=1, retry_unavailable_s=0.1, timeout=0.5
    )
    try:
        await _grant(limiter)
        await limiter.record_throttle()
        cut = limiter.rate
        assert cut == pytest.approx(4.0)
        redis_server.stop(keep=True)  # SIGKILL, no persistence: the state is lost
        try:
            await _grant(limiter)
            assert limiter.degraded
        finally:
            redis_server.start()
        with anyio.fail_after(5):
            while limiter.degraded:
                await _grant(limiter)
        stats = await limiter.stats()
    finally:
        await limiter.aclose()
    # Not slow start again (10/s and growing): where the fleet was, with a curve that holds
    # there before it probes past it.
    assert stats["rate"] == pytest.approx(cut, rel=0.01)
    assert stats["ceiling"] == pytest.approx(cut)
    assert stats["throttles"] == 0


async def test_a_told_rate_restarted_empty_keeps_its_cut_and_recovers(
    redis_server: RedisServer, limit_name: str
) -> None:
    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, rate=20, burst=1, retry_unavailable_s=0.1, timeout=0.5
    )
    try:
        await _grant(limiter)
        await limiter.record_throttle()
        cut = limiter.rate
        assert cut is not None
        assert cut < 20
        redis_server.stop(keep=True)
        try:
            await _grant(limiter)
        finally:
            redis_server.start()
        with anyio.fail_after(5):
            while limiter.degraded:
                await _grant(limiter)
        stats = await limiter.stats()
    finally:
        await limiter.aclose()
    assert stats["configured"] == 20
    assert stats["rate"] == pytest.approx(cut, rel=0.01)  # not back at the told 20/s at once


async def test_no_burst_of_429s_while_redis_is_down_or_after_it_restarts(
    redis_server: RedisServer, limit_name: str
) -> None:
    from ica_tapis_async.simulator import Simulator

    project = "3f1e8d0a-0000-4000-8000-00000000e0a1"
    retry = ita.RetryPolicy(max_attempts=20, total_timeout=60, initial_backoff=0.01)
    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, fallback_share=1.0, retry_unavailable_s=0.2, timeout=0.5
    )
    async with Simulator(seed=3, rate_limit=8, retry_after="auto") as sim:
        async with ita.IcaClient(sim.ica_url, api_key="other-key") as probe:
            page = await probe.data_transfers.list(project, page_size=1).first_page()
            transfer_id = str(page.items[0].id)
        async with ita.IcaClient(sim.ica_url, api_key="k", limiter=limiter, retry=retry) as ica:

            async def busy(seconds: float) -> None:
                async def worker() -> None:
                    with anyio.move_on_after(seconds):
                        while True:
                            await ica.data_transfers.get(project, transfer_id)

                async with anyio.create_task_group() as tg:
                    for _ in range(6):
                        tg.start_soon(worker)

            with anyio.fail_after(20):  # discovery: slow start until the first 429s, a cut
                while sim.stats.throttled == 0:
                    await busy(0.5)
            await busy(1.0)
            found = limiter.rate
            redis_server.stop(keep=True)
            try:
                before, sent = sim.stats.throttled, sim.stats.requests
                await busy(1.5)
                assert limiter.degraded
                down, sent = sim.stats.throttled - before, sim.stats.requests - sent
            finally:
                await anyio.to_thread.run_sync(redis_server.start)
            before = sim.stats.throttled
            await busy(2.5)
            assert not limiter.degraded
            after = sim.stats.throttled - before
    await limiter.aclose()
    assert found is not None
    assert found < 10  # under the limit, or at most 10% past it (spending a Retry-After's)
    # Paced at about the rate found while Redis was down, evenly: not unpaced (was 17-18).
    assert found <= sent <= 1.5 * found * 1.2 + 2, (sent, found)
    # Unpaced while Redis was down, then slow start again after it came back empty, cost 4-5
    # and 2-4 429s here (one worker, 8/s), dozens with a fleet.
    assert down <= (0 if found <= 8 else 1), (down, found)
    assert after <= 1, (after, found)


async def test_a_redis_that_cannot_write_counts_as_away(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A failover that left the URL on a read-only replica is an outage, not a crash."""
    import redis

    replica = RedisServer()
    replica.start()
    try:
        admin = redis.Redis(host="127.0.0.1", port=replica.port)
        primary = ("REPLICAOF", "127.0.0.1", str(redis_server.port))
        admin.execute_command(*primary)  # type: ignore[no-untyped-call]
        admin.close()
        limiter = ita.RedisRateLimiter(replica.url, "replica", rate=20, fallback_share=0.5)
        try:
            with caplog.at_level(logging.WARNING, logger="ica_tapis_async.limiter"):
                await _grant(limiter)
            assert limiter.degraded
            assert limiter.rate == 10
            assert "unavailable (ReadOnlyError): falling back to 10.0/s" in caplog.text
        finally:
            await limiter.aclose()
        strict = ita.RedisRateLimiter(replica.url, "replica", rate=20, on_unavailable="fail")
        try:
            with pytest.raises(ita.SharedLimiterUnavailableError, match="ReadOnlyError"):
                await _grant(strict)
        finally:
            await strict.aclose()
    finally:
        replica.stop()


async def test_a_told_rate_restarted_empty_sends_no_burst(
    redis_server: RedisServer, limit_name: str
) -> None:
    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, rate=20, burst=5, retry_unavailable_s=0.1, timeout=0.5
    )
    try:
        await _grant(limiter)
        redis_server.stop(keep=True)
        try:
            await _grant(limiter)
        finally:
            redis_server.start()
        with anyio.fail_after(5):
            while limiter.degraded:
                await _grant(limiter)  # the first grant on the new state
        start = time.monotonic()
        for _ in range(4):
            await _grant(limiter)
        elapsed = time.monotonic() - start
    finally:
        await limiter.aclose()
    # The fleet was sending up to the restart: paced at 20/s from the first grant on, not a
    # burst of 5 into a server budget the fleet had been spending.
    assert elapsed >= 4 / 20 * 0.9


async def test_the_disagreement_log_line_names_a_rate_or_discovery(
    redis_server: RedisServer, limit_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker told no rate joining workers told 40/s logs what it set, not ``None/s``."""
    told = ita.RedisRateLimiter(redis_server.url, limit_name, rate=40)
    discovering = ita.RedisRateLimiter(redis_server.url, limit_name)
    try:
        await _grant(told)
        with caplog.at_level(logging.WARNING, logger="ica_tapis_async.limiter"):
            await _grant(discovering)
            await _grant(told)
    finally:
        await told.aclose()
        await discovering.aclose()
    lines = [r.getMessage() for r in caplog.records if "disagree" in r.getMessage()]
    assert lines == [
        f"shared limit {limit_name!r}: workers disagree about its rate; now discovered from "
        "throttles",
        f"shared limit {limit_name!r}: workers disagree about its rate; now 40.0/s",
    ]


async def test_a_redis_back_from_a_stall_grants_no_burst(
    redis_server: RedisServer, limit_name: str
) -> None:
    """A Redis that stalls (SIGSTOP, a partition) and comes back with its state: the schedule
    it kept is from before the outage, so its whole burst looks saved up, yet the fleet spent
    the server's budget meanwhile through the local fallback. The first grants are paced."""
    import os
    import signal

    limiter = ita.RedisRateLimiter(
        redis_server.url, limit_name, rate=20, burst=5, retry_unavailable_s=0.1, timeout=0.3
    )
    process = redis_server._process
    assert process is not None
    try:
        await _grant(limiter)
        os.kill(process.pid, signal.SIGSTOP)
        try:
            with anyio.fail_after(5):
                while not limiter.degraded:
                    await _grant(limiter)
                for _ in range(10):
                    await _grant(limiter)  # paced locally, at 5/s
        finally:
            os.kill(process.pid, signal.SIGCONT)
        with anyio.fail_after(5):
            while limiter.degraded:
                await _grant(limiter)  # the first grant from Redis again
        start = time.monotonic()
        for _ in range(4):
            await _grant(limiter)
        elapsed = time.monotonic() - start
    finally:
        await limiter.aclose()
    assert elapsed >= 4 / 20 * 0.9, elapsed
