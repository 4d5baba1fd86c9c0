"""Listing a journal's runs (list_runs) on every built-in journal, and the journal tools
(runs, status of the latest run, export) on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli import main
from ica_tapis_async.orchestrator import Journal
from ica_tapis_async.orchestrator._journal_memory import MemoryJournal
from ica_tapis_async.orchestrator._journal_runs import list_runs
from tests.servers import PostgresServer

from .test_status import _database, _populate


async def _two_runs(journal: Journal) -> list[str]:
    await journal.open_run("link", "proj", "older", "fp")
    await asyncio.sleep(0.02)
    await journal.open_run("update", "proj", "newer", "fp2")
    return [run.run_id for run in await list_runs(journal)]


async def test_list_runs_newest_first_sqlite_and_memory(tmp_path: Path) -> None:
    sqlite = ita.SqliteJournal(tmp_path / "j.sqlite")
    try:
        assert await list_runs(sqlite) == []
        assert await _two_runs(sqlite) == ["newer", "older"]
    finally:
        await sqlite.aclose()
    assert await _two_runs(MemoryJournal()) == ["newer", "older"]


async def test_list_runs_of_another_journal_is_a_type_error() -> None:
    class Other:
        pass

    with pytest.raises(TypeError, match="cannot list the runs of a Other"):
        await list_runs(Other())  # type: ignore[arg-type]


def test_journal_tools_on_postgres(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """runs, status (latest) and export read a PostgreSQL journal like a SQLite one."""
    dsn = _database(postgres_server, "journal_tools")
    asyncio.run(_populate(ita.PostgresJournal(dsn)))

    async def newest() -> list[str]:
        journal = ita.PostgresJournal(dsn)
        try:
            await asyncio.sleep(0.02)
            await journal.open_run("update", "proj", "run-8", "fp")
            return [run.run_id for run in await list_runs(journal)]
        finally:
            await journal.aclose()

    assert asyncio.run(newest()) == ["run-8", "run-7"]
    assert main(["runs", "--journal", dsn, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [(r["run_id"], r["kind"]) for r in runs] == [("run-8", "update"), ("run-7", "link")]
    assert runs[1]["items"] == {"FAILED": 1, "LINKED": 2}
    assert main(["status", "--journal", dsn, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == "run-8"
    assert main(["export", "--journal", dsn, "--run-id", "run-7"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [(r["key"], r["status"]) for r in rows] == [
        ("fil.1", "LINKED"),
        ("fil.2", "LINKED"),
        ("fil.3", "FAILED"),
    ]
    assert "2 chunks not finished yet" in captured.err
