"""A PostgreSQL journal whose user may connect but not keep the journal's tables (no CREATE on
the schema: PostgreSQL 15's default for every user but the database owner): a refusal, typed
and permanent with the server's reason, not a raw psycopg error or a traceback."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli import main
from tests.servers import PostgresServer


@pytest.fixture
async def weak_dsn(pg_dsn: str) -> AsyncIterator[str]:
    """``pg_dsn`` as a user that may log in but create nothing in its schema."""
    import psycopg

    role = f"weak_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'We@k#Pw'")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    yield pg_dsn.replace("://postgres@", f"://{role}:We%40k%23Pw@")
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(f"DROP OWNED BY {role}")
        await conn.execute(f"DROP ROLE {role}")


async def test_a_user_who_may_not_create_the_tables_is_refused_at_once(weak_dsn: str) -> None:
    journal = ita.PostgresJournal(weak_dsn, retries=1)
    try:
        with pytest.raises(ita.JournalUnavailableError) as caught:
            await journal.open_run("link", "p", "r", "f")
    finally:
        await journal.aclose()
    error = caught.value
    assert error.permanent
    assert "permission denied for schema public" in str(error)
    assert str(error).startswith(f"journal {journal.url}:")
    assert "We@k" not in str(error)
    with pytest.raises(ita.JournalUnavailableError):
        async with ita.PostgresJournal(weak_dsn, retries=1):
            pass


def test_the_command_line_says_so_in_one_line(weak_dsn: str, tmp_path: Path) -> None:
    # A run creates the journal's tables (`status` only reads, and says "holds no journal").
    ids = tmp_path / "ids.txt"
    ids.write_text("fil.a\nfil.b\n")
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(
            [
                "link", str(ids), "--journal", weak_dsn, "--api-key", "any",
                "--base-url", "http://127.0.0.1:9/ica/rest",
                "--project", "00000000-0000-4000-8000-000000000000",
            ]
        )  # fmt: skip
    text = out.getvalue() + err.getvalue()
    assert code == 2, text
    assert "error: journal postgresql://***@" in text, text
    assert "permission denied for schema public" in text
    assert "Traceback" not in text
    assert "We@k" not in text


def test_status_reads_such_a_journal_without_creating_it(weak_dsn: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["status", "--journal", weak_dsn, "--run-id", "x"])
    text = out.getvalue() + err.getvalue()
    assert code == 2, text
    assert text.strip().startswith("error: --journal postgresql://***@"), text
    assert "holds no journal" in text
    assert "We@k" not in text


async def test_a_read_only_database_is_away_not_a_crash(pg_dsn: str) -> None:
    """A failover that left the URL on a standby (or a database set read-only): retried like
    a lost connection, then JournalUnavailableError with the server's reason, not a raw
    psycopg ReadOnlySqlTransaction."""
    import psycopg

    journal = ita.PostgresJournal(pg_dsn, retries=1)
    try:
        await journal.open_run("link", "p", "r", "f")
    finally:
        await journal.aclose()
    database = pg_dsn.rpartition("/")[2]
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    journal = ita.PostgresJournal(pg_dsn, retries=1)
    try:
        with pytest.raises(ita.JournalUnavailableError) as caught:
            await journal.open_run("link", "p", "r2", "f")
    finally:
        await journal.aclose()
    assert not caught.value.permanent
    assert "unavailable after 2 tries: cannot execute " in str(caught.value)
    assert "in a read-only transaction" in str(caught.value)


async def test_a_server_that_goes_away_while_the_journal_opens_is_journal_unavailable(
    postgres_server: PostgresServer, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``async with PostgresJournal(...)``: the server answers the first connection and is gone
    before the pool's (an outage starting): the pool's bare PoolTimeout never escapes."""
    from ica_tapis_async.orchestrator._postgres_store import PostgresStore

    first = PostgresStore._first_connection

    async def then_the_server_goes(self: PostgresStore) -> None:
        await first(self)
        await anyio.to_thread.run_sync(lambda: postgres_server.stop(keep=True))

    monkeypatch.setattr(PostgresStore, "_first_connection", then_the_server_goes)
    try:
        with pytest.raises(ita.JournalUnavailableError) as caught:
            async with ita.PostgresJournal(pg_dsn, connect_timeout=1, retries=1):
                pass
    finally:
        await anyio.to_thread.run_sync(postgres_server.start)
    assert "Connection refused" in str(caught.value)
