"""``ica-tapis-async status``: a run's progress across workers, from SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli import main
from ica_tapis_async.orchestrator import Journal
from ica_tapis_async.orchestrator._journal_protocol import END_DIGEST, END_KEY
from tests.orchestrator.journal_contract import outcome
from tests.servers import PostgresServer


async def _populate(journal: Journal) -> None:
    """Three chunks: one done by worker a, one sending (b, live lease), one with a lapsed lease;
    and the input's end, being recorded by worker d (not a chunk: never counted or shown)."""
    try:
        await journal.open_run("link", "proj", "run-7", "fp")
        done = await journal.claim("run-7", 0, key="k0", digest="d0", owner="a", ttl_s=60)
        assert done.lease is not None
        await journal.mark_sending(done.lease)
        await journal.mark_done(
            done.lease, [outcome("fil.1"), outcome("fil.2"), outcome("fil.3", "FAILED", False)]
        )
        live = await journal.claim("run-7", 1, key="k1", digest="d1", owner="b", ttl_s=60)
        assert live.lease is not None
        await journal.mark_sending(live.lease)
        await journal.claim("run-7", 2, key="k2", digest="d2", owner="c", ttl_s=0.01)
        await journal.claim("run-7", 3, key=END_KEY, digest=END_DIGEST, owner="d", ttl_s=60)
        await asyncio.sleep(0.05)
    finally:
        await journal.aclose()


def _status(capsys: pytest.CaptureFixture[str], journal: str, *extra: str) -> tuple[int, str]:
    code = main(["status", "--journal", journal, "--run-id", "run-7", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _check(data: dict[str, object]) -> None:
    assert data["chunks"] == {"seen": 3, "planned": 1, "sending": 1, "submitted": 0, "done": 1}
    assert data["items"] == {"FAILED": 1, "LINKED": 2}
    workers = {w["owner"]: w for w in data["workers"]}  # type: ignore[attr-defined]
    assert set(workers) == {"b", "c"}
    assert workers["b"]["leases"] == 1
    assert workers["b"]["chunks"] == [1]
    assert workers["c"]["leases"] == 0
    assert workers["c"]["expired_leases"] == 1


def test_status_of_a_sqlite_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "j.sqlite")
    asyncio.run(_populate(ita.SqliteJournal(path)))
    code, out = _status(capsys, path, "--json")
    assert code == 0
    _check(json.loads(out))
    code, out = _status(capsys, path)
    assert code == 0
    assert "run run-7: link, running" in out
    assert "expired" in out


def _database(server: PostgresServer, name: str) -> str:
    """A new database ``name`` on the session's cluster; its URL."""

    async def create() -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(server.dsn(), autocommit=True) as conn:
            await conn.execute(f"CREATE DATABASE {name}")

    asyncio.run(create())
    return server.dsn(name)


def test_status_of_a_postgres_journal_hides_the_password(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = _database(postgres_server, "status_test")
    dsn = dsn.replace("postgres@", "postgres:s3cret-pw@")  # trust auth: any password
    asyncio.run(_populate(ita.PostgresJournal(dsn)))
    code, out = _status(capsys, dsn, "--json")
    assert code == 0, out
    data = json.loads(out)
    _check(data)
    assert "s3cret" not in out
    assert data["journal"].startswith("postgresql://***@127.0.0.1:")


def test_status_reads_lease_times_on_the_journals_clock(
    postgres_server: PostgresServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsn = _database(postgres_server, "status_clock")
    asyncio.run(_populate(ita.PostgresJournal(dsn)))
    # This machine's clock runs an hour fast: b's 60 s lease is still live on the database's.
    import types

    from ica_tapis_async.cli import _status as status_module

    fast = types.SimpleNamespace(time=lambda: time.time() + 3600)
    monkeypatch.setattr(status_module, "time", fast)
    code, out = _status(capsys, dsn, "--json")
    assert code == 0, out
    _check(json.loads(out))


def test_status_of_an_unknown_run_or_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.sqlite")
    code, out = _status(capsys, missing)
    assert code == 2
    assert "no such file" in out
    assert not Path(missing).exists()
    path = str(tmp_path / "j.sqlite")
    asyncio.run(_populate(ita.SqliteJournal(path)))
    code = main(["status", "--journal", path, "--run-id", "other"])
    assert code == 2
    assert "no run 'other'" in capsys.readouterr().err


def test_status_of_a_database_that_does_not_exist_is_one_line_at_once(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = postgres_server.dsn("no_such_db").replace("postgres@", "postgres:s3cret-pw@")
    code, out = _status(capsys, dsn)
    assert code == 2
    assert out.strip() == (
        f"error: --journal {dsn.replace('postgres:s3cret-pw', '***')}: cannot read the journal: "
        'connection failed: connection to server at "127.0.0.1", port '
        f'{postgres_server.port} failed: FATAL:  database "no_such_db" does not exist'
    )


def test_status_with_a_mistyped_url_names_it_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _status(capsys, "postgresql:/postgres:Pl4inSecret@127.0.0.1:1/db")
    assert code == 2
    assert out.strip() == (
        "error: --journal: 'postgresql:/***@127.0.0.1:1/db' is not a PostgreSQL URL: "
        "write postgresql://user:password@host:port/database"
    )
