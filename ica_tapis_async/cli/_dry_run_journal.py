"""A dry run's journal checks: the run is started with a stand-in journal that answers
``open_run`` from a throwaway copy of the real one (SQLite), or reads the run from a
PostgreSQL journal, and stops the run before anything is claimed or sent."""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread

from .._redact import redact_url
from ..orchestrator import (
    Claim,
    Journal,
    JournalMismatchError,
    MemoryJournal,
    RunRecord,
    SqliteJournal,
)
from ..orchestrator._journal_open import is_database_url
from ..orchestrator._journal_protocol import DONE, END_DIGEST, run_mismatch
from ._config import ConfigError

__all__ = ("StandInJournal", "StopAtOpen", "journal_copy", "journal_plan", "stop_at_open")


class StopAtOpen(Exception):
    """The stand-in journal's stop: the run got as far as opening its journal run."""


class StandInJournal(MemoryJournal):
    """A dry run's journal: ``open_run`` is answered by ``target`` (a copy of the real journal,
    or nothing), then the run is stopped before it claims, sends or records anything."""

    def __init__(self, target: SqliteJournal | None) -> None:
        super().__init__()
        self.target = target
        self.run: RunRecord | None = None
        self.asked: tuple[str, str, str | None, str] | None = None

    async def open_run(
        self, kind: str, project_id: str, run_id: str | None, fingerprint: str
    ) -> RunRecord:
        """Open the run in the copy (refusing what the real journal refuses), then stop."""
        self.asked = (kind, project_id, run_id, fingerprint)
        if self.target is not None:
            self.run = await self.target.open_run(kind, project_id, run_id, fingerprint)
        raise StopAtOpen

    async def claim(
        self, run_id: str, index: int, *, key: str, digest: str, owner: str, ttl_s: float
    ) -> Claim:
        """Never granted: every send is preceded by a claim, so none can happen."""
        raise StopAtOpen


def _copy_journal(path: str, copy: Path) -> bool:
    """Copy a SQLite journal to ``copy``; False when there is none to copy yet."""
    source = Path(path)
    if not source.is_file() or source.stat().st_size == 0:
        return False
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    writer = sqlite3.connect(copy)
    try:
        reader.backup(writer)  # consistent even while a run writes the journal
    finally:
        reader.close()
        writer.close()
    return True


@asynccontextmanager
async def journal_copy(path: str | None) -> AsyncIterator[SqliteJournal | None]:
    """A throwaway copy of a SQLite journal (``None``: no journal yet, or PostgreSQL)."""
    if path is None or is_database_url(path):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="ita-dry-run-") as tmp:
        copy = Path(tmp) / "journal.sqlite"
        if not await anyio.to_thread.run_sync(_copy_journal, path, copy):
            yield None
            return
        journal = SqliteJournal(copy)
        try:
            yield journal
        finally:
            await journal.aclose()


async def stop_at_open(start: Any, items: Any, copy: SqliteJournal | None, shown: str) -> None:
    """Run the real command's checks (``start(items)``) up to the journal's ``open_run``."""
    try:
        await start(items)
    except StopAtOpen:
        return
    except BaseExceptionGroup as group:
        # Should the run open its journal run inside a task group, the stop arrives wrapped.
        stop, rest = group.split(StopAtOpen)
        if stop is not None and rest is None:
            return
        raise
    except JournalMismatchError as exc:
        where = str(copy.path) if copy is not None else ""
        message = str(exc).replace(where, shown) if where else str(exc)
        raise ConfigError(f"--journal: {message}") from None
    raise RuntimeError("the run did not open its journal run")  # it would have sent


def _other_input(run_id: str, index: int) -> ConfigError:
    return ConfigError(
        f"--journal: entry {index} of run {run_id} was recorded with other input (other "
        "items, order or batch size, or a longer or shorter input); resume with the same "
        "input, or pass another --run-id"
    )


async def _done_entries(journal: Journal, run_id: str, digests: list[str] | None) -> set[int]:
    """The run's done entries, read through the journal protocol. With ``digests``, input
    that differs from the run's (an entry, or a longer or shorter input) is refused, as the
    run's claims would refuse it."""
    records = await journal.chunks(run_id)
    if digests is not None:
        for record in records:
            if record.index >= len(digests) or record.digest != digests[record.index]:
                raise _other_input(run_id, record.index)
        # The end-of-input entry is no chunk: an entry the run lacks may be it (shorter).
        seen = {record.index for record in records}
        for index in range(len(digests)) if records else ():
            if index not in seen:
                entry = await journal.get_chunk(run_id, index)
                if entry is not None and entry.digest == END_DIGEST:
                    raise _other_input(run_id, index)
    return {record.index for record in records if record.state == DONE}


async def journal_plan(
    args: argparse.Namespace, spy: StandInJournal, digests: list[str] | None
) -> tuple[dict[str, Any] | None, set[int]]:
    """What the journal holds for the run, and its done entries (see :func:`_done_entries`)."""
    if args.journal is None:
        return None, set()
    shown = redact_url(args.journal)
    plan: dict[str, Any] = {"journal": shown, "run_id": args_run_id(args), "resumes": False}
    if spy.target is not None and spy.run is not None:
        journal: Journal = spy.target
        run_id = spy.run.run_id
    elif is_database_url(args.journal) and spy.asked is not None and spy.asked[2] is not None:
        return await _database_plan(args.journal, spy.asked, digests, plan)
    elif is_database_url(args.journal):
        return {**plan, "note": "without --run-id a PostgreSQL journal is not read"}, set()
    else:
        return {**plan, "note": "a new journal"}, set()
    done = await _done_entries(journal, run_id, digests)
    if not await journal.chunks(run_id):
        return plan, set()
    return {**plan, "run_id": run_id, "resumes": True, "done": len(done)}, done


async def _database_plan(
    url: str,
    asked: tuple[str, str, str | None, str],
    digests: list[str] | None,
    plan: dict[str, Any],
) -> tuple[dict[str, Any], set[int]]:
    """A PostgreSQL journal's run (``--run-id``), read only: it is not copied."""
    from ..orchestrator import JournalUnavailableError, PostgresJournal

    kind, project, run_id, fingerprint = asked
    assert run_id is not None
    journal = PostgresJournal(url)
    try:
        run = await journal.get_run(run_id)
        if run is None:
            return plan, set()
        if (run.kind, run.project_id, run.fingerprint) != (kind, project, fingerprint):
            mismatch = run_mismatch(run, kind, project, fingerprint, where=f" {redact_url(url)}")
            raise ConfigError(f"--journal: {mismatch}")
        done = await _done_entries(journal, run_id, digests)
    except JournalUnavailableError as exc:
        raise ConfigError(f"--journal: {exc}") from None
    finally:
        await journal.aclose()
    return {**plan, "resumes": True, "done": len(done)}, done


def args_run_id(args: argparse.Namespace) -> str | None:
    """The ``--run-id`` given, if the command has one (``transfers create`` has none)."""
    run_id: str | None = getattr(args, "run_id", None)
    return run_id
