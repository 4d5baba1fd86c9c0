"""PostgresJournal against a real PostgreSQL: the journal conformance suite, schema, faults."""

from __future__ import annotations

import psycopg
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, LeaseLostError
from ica_tapis_async.orchestrator._postgres_store import one
from tests.orchestrator.journal_contract import JournalContract, OpenJournal, outcome
from tests.servers import PostgresServer


class TestPostgresJournal(JournalContract):
    """One fresh database per test; one journal (pool) per simulated process."""

    @pytest.fixture
    def open_journal(self, pg_dsn: str) -> OpenJournal:
        """A new journal with its own pool on the test's database."""

        async def open_one() -> Journal:
            return ita.PostgresJournal(pg_dsn)

        return open_one


async def test_schema_is_created_once_and_versioned(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as one, ita.PostgresJournal(pg_dsn) as two:
        await one.open_run("link", "p", "r", "f")
        assert (await two.get_run("r")) is not None
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        cursor = await conn.execute("SELECT version FROM ita_schema")
        assert await cursor.fetchall() == [(2,)]
        await conn.execute("UPDATE ita_schema SET version = 99")
        await conn.commit()
    refused = ita.PostgresJournal(pg_dsn)
    with pytest.raises(RuntimeError, match="version 99, newer"):
        async with refused:
            await refused.get_run("r")
    assert refused._store._pool.closed  # nothing of the refused journal lives on


async def test_a_version_1_schema_gains_the_end_of_input_index(pg_dsn: str) -> None:
    from ica_tapis_async.orchestrator._postgres_schema import MIGRATIONS

    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(MIGRATIONS[0])
        await conn.execute("CREATE TABLE ita_schema (version integer NOT NULL)")
        await conn.execute("INSERT INTO ita_schema VALUES (1)")
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        cursor = await conn.execute("SELECT version FROM ita_schema")
        assert await cursor.fetchall() == [(2,)]
        cursor = await conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'ita_chunks_end'")
        assert await cursor.fetchone() == (1,)


async def test_dropped_connections_are_retried(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn, max_size=2) as journal:
        await journal.open_run("link", "p", "r", "f")
        claim = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=60)
        assert claim.lease is not None
        # The server drops every connection of this database (a failover, an idle reaper).
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        await journal.mark_sending(claim.lease)
        await journal.mark_done(claim.lease, [outcome("fil.1")])
        assert [o.key for o in await journal.outcomes("r", 0)] == ["fil.1"]


async def test_a_session_ended_for_idling_in_a_transaction_is_retried(pg_dsn: str) -> None:
    import anyio

    attempts: list[int] = []

    async def stalls_once(conn: object) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            await anyio.sleep(0.6)  # frozen mid-transaction past stall_timeout (SIGSTOP, GC)
        cursor = await conn.execute("SELECT 7")  # type: ignore[attr-defined]
        row = await cursor.fetchone()
        return int(row[0])

    async with ita.PostgresJournal(pg_dsn, stall_timeout=0.2) as journal:
        assert await journal._store.call(stalls_once) == 7
    assert len(attempts) == 2


async def test_a_stolen_lease_cannot_write(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as slow, ita.PostgresJournal(pg_dsn) as fast:
        await slow.open_run("link", "p", "r", "f")
        mine = (await slow.claim("r", 0, key="k", digest="d", owner="slow", ttl_s=0.2)).lease
        assert mine is not None
        await slow.mark_sending(mine)
        import anyio

        await anyio.sleep(0.3)  # the slow worker stalls past its lease
        theirs = (await fast.claim("r", 0, key="k", digest="d", owner="fast", ttl_s=60)).lease
        assert theirs is not None
        assert theirs.token == mine.token + 1
        await fast.mark_done(theirs, [outcome("fil.1", status="LINKED")])
        with pytest.raises(LeaseLostError):
            await slow.mark_done(mine, [outcome("fil.1", status="FAILED", ok=False)])
        assert [o.status for o in await fast.outcomes("r", 0)] == ["LINKED"]


def test_bad_dsn_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match="postgresql://") as caught:
        ita.PostgresJournal("mysql://u:s3cret@h/db")
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in repr(ita.PostgresJournal("postgresql://u:s3cret@h/db"))
    # libpq quotes a URL it cannot parse, password and all: refused before it gets there.
    with pytest.raises(ValueError, match="not a valid PostgreSQL URL") as caught:
        ita.PostgresJournal("postgresql://u:s3cret@[::1/db")
    assert "s3cret" not in str(caught.value)


_FROZEN = """
import asyncio, sys
import ica_tapis_async as ita
from ica_tapis_async.orchestrator._postgres_store import one

async def main():
    journal = ita.PostgresJournal(sys.argv[1], stall_timeout=float(sys.argv[2]))
    await journal.open_run("link", "p", "r", "f")
    await journal.claim("r", 0, key="k", digest="d", owner="frozen", ttl_s=0.3)

    async def freeze(conn):
        await one(conn, "SELECT 1 FROM ita_chunks WHERE run_id = 'r' AND idx = 0 FOR UPDATE")
        print("locked", flush=True)
        await asyncio.sleep(3600)  # frozen mid-transaction: the row lock stays held

    await journal._store.call(freeze)

asyncio.run(main())
"""


@pytest.mark.parametrize(("stall_timeout", "freed"), [(0.5, True), (30.0, False)])
async def test_a_worker_frozen_mid_transaction_does_not_keep_its_chunk(
    pg_dsn: str, stall_timeout: float, freed: bool
) -> None:
    import sys

    import anyio

    frozen = await anyio.open_process(
        [sys.executable, "-c", _FROZEN, pg_dsn, str(stall_timeout)], stderr=None
    )
    try:
        assert frozen.stdout is not None
        with anyio.fail_after(30):
            assert (await frozen.stdout.receive()).strip() == b"locked"
        async with ita.PostgresJournal(pg_dsn) as journal:
            granted = False
            with anyio.move_on_after(3):
                while not granted:
                    claim = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=5)
                    granted = claim.granted
                    await anyio.sleep(0.05)
        # With the timeout the server ends the frozen session and its lock; without, the
        # chunk would wait for the frozen worker however long its lease had lapsed.
        assert granted is freed
    finally:
        frozen.kill()
        await frozen.aclose()


async def test_a_server_down_at_first_use_is_waited_for(
    pg_dsn: str, postgres_server: PostgresServer
) -> None:
    import anyio
    import anyio.to_thread

    postgres_server.stop(keep=True)  # down before the journal's first connection and schema

    async def back_soon() -> None:
        await anyio.sleep(1.0)
        await anyio.to_thread.run_sync(postgres_server.start)

    journal = ita.PostgresJournal(pg_dsn, connect_timeout=1, retries=10)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(back_soon)
            run = await journal.open_run("link", "p", "r", "f")
        assert run.run_id == "r"
    finally:
        await journal.aclose()


async def test_a_database_that_does_not_exist_fails_at_once_with_the_reason(
    postgres_server: PostgresServer,
) -> None:
    dsn = postgres_server.dsn("no_such_db").replace("postgres@", "postgres:s3cret-pw@")
    with pytest.raises(ita.JournalUnavailableError) as caught:
        async with ita.PostgresJournal(dsn, retries=50) as journal:  # retrying cannot help
            await journal.get_run("r")
    assert caught.value.permanent
    assert 'database "no_such_db" does not exist' in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_an_unreachable_server_fails_after_the_retries_with_the_reason() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dsn = f"postgresql://u:s3cret-pw@127.0.0.1:{port}/db"
    with pytest.raises(ita.JournalUnavailableError) as caught:
        async with ita.PostgresJournal(dsn, retries=1, connect_timeout=1) as journal:
            await journal.get_run("r")
    assert not caught.value.permanent
    assert f"journal postgresql://***@127.0.0.1:{port}/db: cannot connect:" in str(caught.value)
    assert "Connection refused" in str(caught.value)


async def _slow_write(conn: object) -> None:
    """A transaction that outlasts its caller's patience, and leaves a mark when committed."""
    await one(conn, "SELECT pg_sleep(0.4)")
    await conn.execute("CREATE TABLE cancel_probe (x int)")  # type: ignore[attr-defined]


async def _written_on_one_connection(
    pg_dsn: str, stats: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    """The slow write committed, on the pool's one connection, never cut or reconnected."""
    assert stats.get("returns_bad", 0) == 0
    assert stats.get("connections_num", 0) == 1  # never reconnected
    assert not [r for r in caplog.records if r.name.startswith("psycopg")]
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        cursor = await conn.execute("SELECT to_regclass('cancel_probe') IS NOT NULL")
        assert await cursor.fetchone() == (True,)


async def test_a_cancelled_caller_lets_its_transaction_finish(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A heartbeat stopped mid-renewal, a task group unwinding: the transaction commits, the
    # connection goes back to the pool (psycopg would otherwise cancel the query, be
    # interrupted, warn and close the connection), then the cancellation takes effect.
    import time

    import anyio

    async with ita.PostgresJournal(pg_dsn, max_size=1) as journal:
        await journal.get_run("warm-up")  # the pool's one connection is open
        started = time.monotonic()
        with anyio.move_on_after(0.1) as scope:
            await journal._store.call(_slow_write)
        assert scope.cancel_called  # it takes effect at the caller's next await
        assert time.monotonic() - started >= 0.4
        assert await journal.get_run("still-works") is None
        stats = journal._store._pool.get_stats()
    await _written_on_one_connection(pg_dsn, stats, caplog)


async def test_a_transaction_the_server_never_finishes_is_retried(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    async def hangs_once(conn: object) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            await one(conn, "SELECT pg_sleep(5)")  # a silent server, as far as we can tell
        return int((await one(conn, "SELECT 7"))[0])

    async with ita.PostgresJournal(pg_dsn) as journal:
        journal._store._shield_s = 0.3
        assert await journal._store.call(hangs_once) == 7
    assert len(attempts) == 2
    assert "no answer within 0.3 s" in caplog.text


@pytest.mark.parametrize("how", ["task.cancel()", "asyncio.timeout"])
async def test_a_transaction_finishes_under_asyncio_cancellation(
    pg_dsn: str, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    # Not only anyio's cancel scopes: asyncio's own cancellation (Ctrl-C on the main task,
    # asyncio.timeout, wait_for) also lets the transaction finish first.
    import asyncio
    import time

    async with ita.PostgresJournal(pg_dsn, max_size=1) as journal:
        await journal.get_run("warm-up")
        started = time.monotonic()
        if how == "task.cancel()":
            task = asyncio.ensure_future(journal._store.call(_slow_write))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await journal._store.call(_slow_write)
        assert time.monotonic() - started >= 0.4
        assert await journal.get_run("still-works") is None
        stats = journal._store._pool.get_stats()
    await _written_on_one_connection(pg_dsn, stats, caplog)


async def test_callers_cancelled_at_any_moment_cost_no_connection(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Cancelled while the pool checks the connection it hands out, or mid-transaction: no
    # query is ever cut (psycopg would warn and close the connection), the pool keeps its
    # connections, and the journal goes on working.
    import random

    import anyio

    rand = random.Random(7)
    async with ita.PostgresJournal(pg_dsn, max_size=2) as journal:
        await journal.open_run("link", "p", "r", "f")
        for _ in range(150):
            with anyio.move_on_after(rand.uniform(0, 0.004)):
                await journal.get_run("r")
        assert (await journal.get_run("r")) is not None
        stats = journal._store._pool.get_stats()
    assert not [r for r in caplog.records if r.name.startswith("psycopg")], caplog.text
    assert stats.get("returns_bad", 0) == 0
    assert stats.get("connections_num", 0) <= 2


async def test_calls_waiting_when_the_journal_closes_fail_at_once(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    import anyio

    errors: list[BaseException] = []

    async def waits(journal: ita.PostgresJournal) -> None:
        try:
            await journal._store.call(lambda conn: one(conn, "SELECT pg_sleep(0.3)"))
        except RuntimeError as exc:
            errors.append(exc)

    journal = ita.PostgresJournal(pg_dsn, max_size=1)
    await journal.get_run("warm-up")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(waits, journal)
            await anyio.sleep(0.1)  # one runs, four wait for the pool's one connection
            await journal.aclose()
    assert errors
    assert all("is closed" in str(e) for e in errors)
    assert "retrying" not in caplog.text  # closed on purpose is no lost connection
