"""A dry run's journal checks: the run is started with a stand-in journal that answers
``open_run`` from a throwaway copy of the real one (SQLite), or reads the run from a
PostgreSQL journal, and stops the run before anything is claimed or sent."""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread

from .._converter import dumps
from .._redact import redact_url
from ..orchestrator import (
    Claim,
    Journal,
    JournalMismatchError,
    MemoryJournal,
    RunRecord,
    SqliteJournal,
    TransferRequest,
)
from ..orchestrator._journal_open import is_database_url
from ..orchestrator._journal_protocol import DONE, END_DIGEST, run_mismatch
from ._config import ConfigError

__all__ = (
    "Digests",
    "StandInJournal",
    "StopAtOpen",
    "journal_copy",
    "journal_plan",
    "stop_at_open",
    "transfer_digests",
)

#: The digests of the input's entries, given the run id (a transfer's tag may embed it).
Digests = Callable[[str], list[str]]


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


async def _done_entries(journal: Journal, run_id: str, digests: list[str]) -> set[int]:
    """The run's done entries, read through the journal protocol. Input that differs from
    the run's (an entry, or a longer or shorter input) is refused, as the run's claims would
    refuse it."""
    records = await journal.chunks(run_id)
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


def transfer_digests(requests: Sequence[TransferRequest]) -> Digests:
    """The digests the transfer orchestrator claims its tasks with (elements and tag; an
    untagged request's tag is named after the run), so that other input is refused."""

    def digests(run_id: str) -> list[str]:
        return [
            hashlib.sha256(
                dumps([list(request.elements), request.tag or f"ita-{run_id}-{index:06d}"])
            ).hexdigest()
            for index, request in enumerate(requests)
        ]

    return digests


async def journal_plan(
    args: argparse.Namespace, spy: StandInJournal, digests: Digests
) -> tuple[dict[str, Any] | None, set[int]]:
    """What the journal holds for the run, and its done entries (see :func:`_done_entries`)."""
    if args.journal is None:
        return None, set()
    shown = redact_url(args.journal)
    plan: dict[str, Any] = {"journal": shown, "run_id": args_run_id(args), "resumes": False}
    if spy.target is not None and spy.run is not None:
        journal: Journal = spy.target
        run_id = spy.run.run_id
    elif is_database_url(args.journal) and spy.asked is not None:
        return await _database_plan(args.journal, spy.asked, digests, plan)
    else:
        return {**plan, "note": "a new journal"}, set()
    done = await _done_entries(journal, run_id, digests(run_id))
    if not await journal.chunks(run_id):
        return plan, set()
    return {**plan, "run_id": run_id, "resumes": True, "done": len(done)}, done


async def database_schema(url: str) -> int | None:
    """A PostgreSQL journal's schema version, read without writing (``None``: the database
    holds no journal yet; opening a :class:`PostgresJournal` would create its tables).

    Raises:
        ConfigError: the database cannot be reached or read (the URL's password not shown).
    """
    import psycopg
    import psycopg.conninfo

    from ..orchestrator._postgres_store import _first_line

    shown = redact_url(url)
    try:
        password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        raise ConfigError(f"--journal {shown}: not a valid PostgreSQL URL") from None
    try:
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=10
        ) as conn:
            cursor = await conn.execute("SELECT to_regclass('ita_schema') IS NOT NULL")
            row = await cursor.fetchone()
            if row is None or not row[0]:
                return None
            cursor = await conn.execute("SELECT version FROM ita_schema")
            row = await cursor.fetchone()
    except psycopg.Error as exc:
        reason = _first_line(exc)
        if password:
            reason = reason.replace(str(password), "***")
        raise ConfigError(f"--journal {shown}: cannot read the journal: {reason}") from None
    return 0 if row is None else int(row[0])


async def _database_plan(
    url: str,
    asked: tuple[str, str, str | None, str],
    digests: Digests,
    plan: dict[str, Any],
) -> tuple[dict[str, Any], set[int]]:
    """A PostgreSQL journal's run, read only: it is not copied. The run is the one
    ``--run-id`` names, or the one the run would open without it."""
    from ..orchestrator import JournalUnavailableError, PostgresJournal
    from ..orchestrator._postgres_schema import SCHEMA_VERSION
    from ..orchestrator._postgres_store import run_row

    version = await database_schema(url)
    if version is None:
        return {**plan, "note": "a new journal"}, set()  # read further, it would be created
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"--journal {redact_url(url)}: the journal's schema is version {version}, newer "
            f"than this release's {SCHEMA_VERSION}: upgrade ica_tapis_async"
        )
    if version < SCHEMA_VERSION:
        # Reading it would upgrade it (a write): the run does that, not its dry run.
        return {**plan, "note": f"schema version {version}: the run upgrades it"}, set()
    kind, project, run_id, fingerprint = asked
    journal = PostgresJournal(url)
    try:
        run: RunRecord | None
        if run_id is None:
            # The run's own query (a read) for the run a call without a run id opens.
            row = await journal._call(
                lambda conn: journal._unnamed_run(conn, kind, project, fingerprint)
            )
            run = run_row(row) if row is not None else None
        else:
            run = await journal.get_run(run_id)
        if run is None:
            return plan, set()
        if (run.kind, run.project_id, run.fingerprint) != (kind, project, fingerprint):
            mismatch = run_mismatch(run, kind, project, fingerprint, where=f" {redact_url(url)}")
            raise ConfigError(f"--journal: {mismatch}")
        done = await _done_entries(journal, run.run_id, digests(run.run_id))
        if not await journal.chunks(run.run_id):
            return {**plan, "run_id": run.run_id}, set()
    except JournalUnavailableError as exc:
        raise ConfigError(f"--journal: {exc}") from None
    finally:
        await journal.aclose()
    return {**plan, "run_id": run.run_id, "resumes": True, "done": len(done)}, done


def args_run_id(args: argparse.Namespace) -> str | None:
    """The ``--run-id`` given, if the command has one (``transfers create`` has none)."""
    run_id: str | None = getattr(args, "run_id", None)
    return run_id
