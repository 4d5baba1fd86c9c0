"""``runs``, ``status`` and ``export`` only read the journal (README, "Journal tools"): a file
that holds no journal (an empty file, another program's SQLite database) is refused, exit 2,
and left exactly as it was, without the journal's tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from .helpers import Cli

TOOLS = [["runs"], ["status"], ["export", "--format", "csv"]]


def _names(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return sorted(str(row[0]) for row in db.execute("SELECT name FROM sqlite_master"))
    finally:
        db.close()


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool[0])
def test_an_empty_file_is_refused_and_left_empty(cli: Cli, tmp_path: Path, tool: list[str]) -> None:
    journal = tmp_path / "j.sqlite"
    journal.touch()
    result = cli(*tool, "--journal", str(journal))
    assert result.code == 2, result.out
    assert "no run" in result.err
    assert journal.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite"]


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool[0])
def test_another_programs_database_is_refused_and_left_alone(
    cli: Cli, tmp_path: Path, tool: list[str]
) -> None:
    journal = tmp_path / "mine.sqlite"
    db = sqlite3.connect(journal)
    db.execute("CREATE TABLE mine (x)")
    db.commit()
    db.close()
    result = cli(*tool, "--journal", str(journal))
    assert result.code == 2, result.out
    assert "not a journal" in result.err
    assert _names(journal) == ["mine"]


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool[0])
def test_an_sqlite_file_without_tables_is_refused_and_left_alone(
    cli: Cli, tmp_path: Path, tool: list[str]
) -> None:
    journal = tmp_path / "blank.sqlite"
    db = sqlite3.connect(journal)
    db.execute("PRAGMA user_version = 7")  # a database file, but with no table in it
    db.commit()
    db.close()
    result = cli(*tool, "--journal", str(journal))
    assert result.code == 2, result.out
    assert "no run" in result.err
    assert _names(journal) == []
