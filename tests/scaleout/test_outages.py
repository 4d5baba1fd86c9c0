"""Outages and refusals of the shared servers: clear typed errors with the server's reason."""

from __future__ import annotations

import logging
import re

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
