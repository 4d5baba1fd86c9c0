"""The journal: a run's chunks, keys, batch ids and item outcomes, kept for resuming.

:class:`SqliteJournal` is the default store; anything implementing :class:`Journal` can replace it.
Every state change is one transaction, so a job killed at any point leaves a consistent journal.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import attrs

from .._errors import RequestValidationError
from ._report import ItemOutcome

__all__ = ("ChunkRecord", "Journal", "NullJournal", "SqliteJournal")

#: Chunk states, in order.
PLANNED, SENDING, SUBMITTED, DONE = "planned", "sending", "submitted", "done"


@attrs.define(frozen=True)
class ChunkRecord:
    """What the journal knows about one chunk."""

    index: int
    key: str
    digest: str
    state: str
    batch_id: str | None
    attempts: int


class Journal(Protocol):
    """Storage of run progress. Implementations must make each method atomic."""

    def open_run(self, kind: str, project_id: str, run_id: str | None) -> str:
        """Return the run id to use: ``run_id``, the unfinished/last run of this kind and
        project, or a new one."""

    def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """The chunk's record, if any."""

    def mark_sending(self, run_id: str, index: int, key: str, digest: str) -> ChunkRecord:
        """Record an attempt to send the chunk (before the POST); returns the new record."""

    def mark_submitted(self, run_id: str, index: int, batch_id: str) -> None:
        """Record the server's batch id for the chunk."""

    def mark_done(self, run_id: str, index: int, outcomes: Iterable[ItemOutcome]) -> None:
        """Record the chunk's item outcomes and mark it done, in one transaction."""

    def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """The recorded outcomes of a finished chunk."""

    def finish_run(self, run_id: str) -> None:
        """Mark the run complete."""

    def close(self) -> None:
        """Release resources."""


class NullJournal:
    """Remembers nothing: the default when no journal is given (no resume)."""

    def open_run(self, kind: str, project_id: str, run_id: str | None) -> str:
        """A new run id (or the caller's)."""
        return run_id or uuid.uuid4().hex[:16]

    def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """Nothing is known."""
        return None

    def mark_sending(self, run_id: str, index: int, key: str, digest: str) -> ChunkRecord:
        """Nothing is stored; the attempt is the first as far as anyone knows."""
        return ChunkRecord(index, key, digest, SENDING, None, 1)

    def mark_submitted(self, run_id: str, index: int, batch_id: str) -> None:
        """Nothing is stored."""

    def mark_done(self, run_id: str, index: int, outcomes: Iterable[ItemOutcome]) -> None:
        """Nothing is stored."""

    def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """Nothing is known."""
        return []

    def finish_run(self, run_id: str) -> None:
        """Nothing is stored."""

    def close(self) -> None:
        """Nothing to release."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, project_id TEXT NOT NULL,
    started REAL NOT NULL, finished REAL
);
CREATE TABLE IF NOT EXISTS chunks (
    run_id TEXT NOT NULL, idx INTEGER NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL,
    state TEXT NOT NULL, batch_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS outcomes (
    run_id TEXT NOT NULL, idx INTEGER NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
    ok INTEGER NOT NULL, info TEXT, batch_id TEXT, item_id TEXT, resubmitted INTEGER NOT NULL,
    analysis_id TEXT, kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_by_chunk ON outcomes (run_id, idx);
"""


class SqliteJournal:
    """A journal in one SQLite file (WAL mode; one short transaction per state change).

    Example:
        >>> report = await BatchOrchestrator(ica, pid, journal="run.sqlite").link(ids)
        >>> # killed? run the same line again: finished chunks are not re-sent.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def open_run(self, kind: str, project_id: str, run_id: str | None) -> str:
        """Resume the given run, else the latest run of this kind and project, else a new one."""
        with self._db:
            if run_id is not None:
                row = self._db.execute(
                    "SELECT kind, project_id FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO runs VALUES (?, ?, ?, ?, NULL)",
                        (run_id, kind, project_id, time.time()),
                    )
                elif tuple(row) != (kind, project_id):
                    raise RequestValidationError(
                        f"run {run_id!r} in {self.path} is a {row[0]} run of project {row[1]}",
                        field="run_id",
                    )
                return run_id
            row = self._db.execute(
                "SELECT run_id FROM runs WHERE kind = ? AND project_id = ? "
                "ORDER BY started DESC LIMIT 1",
                (kind, project_id),
            ).fetchone()
            if row is not None:
                return str(row[0])
            new_id = uuid.uuid4().hex[:16]
            self._db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, NULL)",
                (new_id, kind, project_id, time.time()),
            )
            return new_id

    def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """The chunk's record, if any."""
        row = self._db.execute(
            "SELECT idx, key, digest, state, batch_id, attempts FROM chunks "
            "WHERE run_id = ? AND idx = ?",
            (run_id, index),
        ).fetchone()
        return ChunkRecord(*row) if row else None

    def mark_sending(self, run_id: str, index: int, key: str, digest: str) -> ChunkRecord:
        """Record an attempt to send (before the POST)."""
        with self._db:
            self._db.execute(
                "INSERT INTO chunks (run_id, idx, key, digest, state, attempts) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (run_id, idx) DO UPDATE SET "
                "state = excluded.state, attempts = attempts + 1",
                (run_id, index, key, digest, SENDING),
            )
        record = self.get_chunk(run_id, index)
        assert record is not None
        return record

    def mark_submitted(self, run_id: str, index: int, batch_id: str) -> None:
        """Record the server's batch id."""
        with self._db:
            self._db.execute(
                "UPDATE chunks SET state = ?, batch_id = ? WHERE run_id = ? AND idx = ?",
                (SUBMITTED, batch_id, run_id, index),
            )

    def mark_done(self, run_id: str, index: int, outcomes: Iterable[ItemOutcome]) -> None:
        """Store the outcomes and mark the chunk done, atomically."""
        with self._db:
            self._db.execute("DELETE FROM outcomes WHERE run_id = ? AND idx = ?", (run_id, index))
            self._db.executemany(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        index,
                        o.key,
                        o.status,
                        int(o.ok),
                        o.info,
                        o.batch_id,
                        o.item_id,
                        int(o.resubmitted),
                        o.analysis_id,
                        o.kind,
                    )
                    for o in outcomes
                ],
            )
            self._db.execute(
                "UPDATE chunks SET state = ? WHERE run_id = ? AND idx = ?", (DONE, run_id, index)
            )

    def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """The stored outcomes of a chunk."""
        rows = self._db.execute(
            "SELECT kind, key, status, ok, info, batch_id, item_id, resubmitted, analysis_id "
            "FROM outcomes WHERE run_id = ? AND idx = ? ORDER BY rowid",
            (run_id, index),
        ).fetchall()
        return [
            ItemOutcome(
                kind=r[0],
                key=r[1],
                status=r[2],
                ok=bool(r[3]),
                info=r[4],
                batch_id=r[5],
                item_id=r[6],
                chunk=index,
                resubmitted=bool(r[7]),
                analysis_id=r[8],
            )
            for r in rows
        ]

    def finish_run(self, run_id: str) -> None:
        """Mark the run complete."""
        with self._db:
            self._db.execute("UPDATE runs SET finished = ? WHERE run_id = ?", (time.time(), run_id))

    def close(self) -> None:
        """Close the database."""
        self._db.close()
