"""The SQLite and in-memory journals pass the journal conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ica_tapis_async.orchestrator import Journal, MemoryJournal, SqliteJournal

from .journal_contract import JournalContract, OpenJournal


class TestSqliteJournal(JournalContract):
    """One SQLite file, one handle per simulated process."""

    @pytest.fixture
    def open_journal(self, tmp_path: Path) -> OpenJournal:
        """A new handle on one file per test."""

        async def open_one() -> Journal:
            return SqliteJournal(tmp_path / "journal.sqlite")

        return open_one


class TestMemoryJournal(JournalContract):
    """The in-process journal: handles share one object, as tasks of one process do."""

    @pytest.fixture
    def open_journal(self) -> OpenJournal:
        """The same journal for every handle."""
        shared = MemoryJournal()

        async def open_one() -> Journal:
            return shared

        return open_one
