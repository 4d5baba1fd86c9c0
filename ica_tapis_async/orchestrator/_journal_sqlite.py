"""The SQLite journal: a run's chunks, leases, keys, batch ids and outcomes in one file.

Several processes on one machine may share the file: it runs in WAL mode and every state
change is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken at the start, so two
claimers never both read "free" and both write "mine"). The work runs in a worker thread so
that writing a 25,000-item chunk does not stall the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import attrs

from ._journal_protocol import (
    DONE,
    END_DIGEST,
    PLANNED,
    SENDING,
    SUBMITTED,
    ChunkRecord,
    Claim,
    Lease,
    LeaseLostError,
    RunRecord,
    digest_mismatch,
    past_end_mismatch,
    run_mismatch,
    shorter_mismatch,
    untrusted,
)
from ._journal_rows import (
    CHUNK_COLUMNS,
    IS_END,
    SCHEMA,
    chunk_of,
    outcome_rows,
    outcomes_of,
    run_of,
    unnamed_run,
)
from ._report import ItemOutcome

__all__ = ("SqliteJournal",)

T = TypeVar("T")


class SqliteJournal:
    """A :class:`Journal` in one SQLite file, shareable by processes on one machine.

    Args:
        path: the database file (created if missing).
        clock: POSIX time source for leases and first-sent times (tests pass a fake one).
        busy_timeout_s: how long a transaction waits for another process's write lock.

    Example::

        report = await BatchOrchestrator(ica, pid, journal="run.sqlite").link(ids)
        # killed? run the same line again: finished chunks are not re-sent.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        # Autocommit at the driver level: transactions are opened explicitly with
        # BEGIN IMMEDIATE, so the write lock is held from the first read of a change.
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def __repr__(self) -> str:
        return f"SqliteJournal({str(self.path)!r})"

    # -- plumbing -----------------------------------------------------------------------------

    async def _call(self, work: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        return await anyio.to_thread.run_sync(self._transaction, work, write)

    def _transaction(self, work: Callable[[sqlite3.Connection], T], write: bool) -> T:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

    def _fenced(self, db: sqlite3.Connection, lease: Lease) -> ChunkRecord:
        row = db.execute(
            f"SELECT {CHUNK_COLUMNS} FROM ita_chunks_v2 WHERE run_id = ? AND idx = ?",
            (lease.run_id, lease.index),
        ).fetchone()
        if row is None:
            raise LeaseLostError(f"chunk {lease.index} of run {lease.run_id} is not in the journal")
        record = chunk_of(row)
        if record.owner != lease.owner or record.lease_token != lease.token:
            raise LeaseLostError(
                f"chunk {lease.index} of run {lease.run_id} is held by another worker "
                f"(token {record.lease_token}, ours {lease.token})"
            )
        if record.state == DONE:
            raise LeaseLostError(f"chunk {lease.index} of run {lease.run_id} is already done")
        return record

    # -- runs ---------------------------------------------------------------------------------

    async def open_run(
        self, kind: str, project_id: str, run_id: str | None, fingerprint: str
    ) -> RunRecord:
        """Create or find the run (see :meth:`Journal.open_run`)."""

        where = f" {self.path}"

        def work(db: sqlite3.Connection) -> RunRecord:
            now = self._clock()
            if run_id is not None:
                row = db.execute("SELECT * FROM ita_runs_v2 WHERE run_id = ?", (run_id,)).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO ita_runs_v2 VALUES (?, ?, ?, ?, ?, NULL)",
                        (run_id, kind, project_id, fingerprint, now),
                    )
                    return RunRecord(run_id, kind, project_id, fingerprint, now)
            else:
                row = unnamed_run(db, kind, project_id, fingerprint)
            if row is not None:
                record = run_of(row)
                if (record.kind, record.project_id, record.fingerprint) != (
                    kind,
                    project_id,
                    fingerprint,
                ):
                    raise run_mismatch(record, kind, project_id, fingerprint, where=where)
                return record
            new_id = uuid.uuid4().hex[:16]
            db.execute(
                "INSERT INTO ita_runs_v2 VALUES (?, ?, ?, ?, ?, NULL)",
                (new_id, kind, project_id, fingerprint, now),
            )
            return RunRecord(new_id, kind, project_id, fingerprint, now)

        return await self._call(work)

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or ``None``."""

        def work(db: sqlite3.Connection) -> RunRecord | None:
            row = db.execute("SELECT * FROM ita_runs_v2 WHERE run_id = ?", (run_id,)).fetchone()
            return run_of(row) if row else None

        return await self._call(work, write=False)

    async def finish_run(self, run_id: str) -> None:
        """Set the run's finish time once."""

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE ita_runs_v2 SET finished = ? WHERE run_id = ? AND finished IS NULL",
                (self._clock(), run_id),
            )

        await self._call(work)

    # -- leases -------------------------------------------------------------------------------

    async def claim(
        self, run_id: str, index: int, *, key: str, digest: str, owner: str, ttl_s: float
    ) -> Claim:
        """Take the chunk's lease if it is free, lapsed or ours (see :meth:`Journal.claim`)."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")

        def work(db: sqlite3.Connection) -> Claim:
            now = self._clock()
            run = db.execute("SELECT kind FROM ita_runs_v2 WHERE run_id = ?", (run_id,)).fetchone()
            if run is None:
                raise ValueError(f"run {run_id!r} is not in the journal")
            row = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks_v2 WHERE run_id = ? AND idx = ?",
                (run_id, index),
            ).fetchone()
            if row is None:
                # BEGIN IMMEDIATE holds the write lock: no claim of the run can come between
                # these checks and the insert.
                self._check_end(db, run_id, str(run[0]), index, digest)
                db.execute(
                    "INSERT INTO ita_chunks_v2 (run_id, idx, key, digest, state, owner, token, "
                    "expires) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                    (run_id, index, key, digest, PLANNED, owner, now + ttl_s),
                )
                record = ChunkRecord(
                    index, key, digest, PLANNED, owner=owner, lease_token=1,
                    lease_expires_at=now + ttl_s,
                )  # fmt: skip
                return Claim(record, Lease(run_id, index, owner, 1, now + ttl_s))
            record = chunk_of(row)
            if record.digest != digest:
                raise digest_mismatch(run_id, str(run[0]), index, record.digest, digest)
            if record.final:
                return Claim(record)
            if untrusted(record, owner, now, ttl_s):
                db.execute(
                    "UPDATE ita_chunks_v2 SET expires = ? WHERE run_id = ? AND idx = ?",
                    (now + ttl_s, run_id, index),
                )
                record = attrs.evolve(record, lease_expires_at=now + ttl_s)
            free = record.owner is None or (record.lease_expires_at or 0.0) <= now
            if record.owner != owner and not free:
                return Claim(record)
            token = record.lease_token if record.owner == owner and not free else None
            token = token if token is not None else record.lease_token + 1
            db.execute(
                "UPDATE ita_chunks_v2 SET owner = ?, token = ?, expires = ? "
                "WHERE run_id = ? AND idx = ?",
                (owner, token, now + ttl_s, run_id, index),
            )
            record = attrs.evolve(
                record, owner=owner, lease_token=token, lease_expires_at=now + ttl_s
            )
            return Claim(record, Lease(run_id, index, owner, token, now + ttl_s))

        return await self._call(work)

    @staticmethod
    def _check_end(db: sqlite3.Connection, run_id: str, kind: str, index: int, digest: str) -> None:
        """Refuse a new entry past the run's end of input, or an end below an entry."""
        end = db.execute(
            f"SELECT min(idx) FROM ita_chunks_v2 WHERE run_id = ? AND {IS_END}", (run_id,)
        ).fetchone()[0]
        if end is not None and end < index:
            raise past_end_mismatch(run_id, kind, int(end))
        if (
            digest == END_DIGEST
            and db.execute(
                "SELECT 1 FROM ita_chunks_v2 WHERE run_id = ? AND idx > ? LIMIT 1", (run_id, index)
            ).fetchone()
        ):
            raise shorter_mismatch(run_id, kind, index)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend the lease; fenced."""

        def work(db: sqlite3.Connection) -> Lease:
            self._fenced(db, lease)
            expires = self._clock() + ttl_s
            db.execute(
                "UPDATE ita_chunks_v2 SET expires = ? WHERE run_id = ? AND idx = ?",
                (expires, lease.run_id, lease.index),
            )
            return Lease(lease.run_id, lease.index, lease.owner, lease.token, expires)

        return await self._call(work)

    async def release(self, lease: Lease) -> None:
        """Give the chunk up if the lease is still ours; otherwise do nothing."""

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE ita_chunks_v2 SET owner = NULL, expires = NULL "
                "WHERE run_id = ? AND idx = ? AND owner = ? AND token = ? AND state != ?",
                (lease.run_id, lease.index, lease.owner, lease.token, DONE),
            )

        await self._call(work)

    # -- chunk changes ------------------------------------------------------------------------

    async def mark_sending(self, lease: Lease) -> ChunkRecord:
        """Record an attempt to send, before the POST; fenced."""

        def work(db: sqlite3.Connection) -> ChunkRecord:
            record = self._fenced(db, lease)
            resent = record.state in (SENDING, SUBMITTED)
            db.execute(
                "UPDATE ita_chunks_v2 SET state = ?, attempts = attempts + 1, "
                "first_sent = COALESCE(first_sent, ?), resubmitted = resubmitted OR ? "
                "WHERE run_id = ? AND idx = ?",
                (SENDING, self._clock(), int(resent), lease.run_id, lease.index),
            )
            row = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks_v2 WHERE run_id = ? AND idx = ?",
                (lease.run_id, lease.index),
            ).fetchone()
            return chunk_of(row)

        return await self._call(work)

    async def mark_unsent(self, lease: Lease, attempt: int) -> ChunkRecord:
        """Take back attempt ``attempt`` (it never connected); fenced."""

        def work(db: sqlite3.Connection) -> ChunkRecord:
            self._fenced(db, lease)
            # The right-hand sides see the row as it was (attempts before the decrement).
            db.execute(
                "UPDATE ita_chunks_v2 SET attempts = attempts - 1, "
                "state = CASE WHEN attempts > 1 THEN state ELSE ? END, "
                "first_sent = CASE WHEN attempts > 1 THEN first_sent END "
                "WHERE run_id = ? AND idx = ? AND attempts = ?",
                (PLANNED, lease.run_id, lease.index, attempt),
            )
            row = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks_v2 WHERE run_id = ? AND idx = ?",
                (lease.run_id, lease.index),
            ).fetchone()
            return chunk_of(row)

        return await self._call(work)

    async def _set(self, lease: Lease, assignments: str, values: tuple[Any, ...]) -> None:
        def work(db: sqlite3.Connection) -> None:
            self._fenced(db, lease)
            db.execute(
                f"UPDATE ita_chunks_v2 SET {assignments} WHERE run_id = ? AND idx = ?",
                (*values, lease.run_id, lease.index),
            )

        await self._call(work)

    async def mark_resubmitted(self, lease: Lease) -> None:
        """Set the sticky re-sent flag; fenced."""
        await self._set(lease, "resubmitted = 1", ())

    async def mark_in_doubt(self, lease: Lease) -> None:
        """Flag the chunk's fate as unknown (not re-sent); fenced."""
        await self._set(lease, "in_doubt = 1", ())

    async def mark_submitted(self, lease: Lease, batch_id: str) -> None:
        """Record the server's batch id; fenced."""
        await self._set(lease, "state = ?, batch_id = ?, in_doubt = 0", (SUBMITTED, batch_id))

    async def mark_done(self, lease: Lease, outcomes: Sequence[ItemOutcome]) -> None:
        """Store the outcomes and mark the chunk done, releasing it, in one transaction."""
        rows = outcome_rows(lease.run_id, lease.index, outcomes)

        def work(db: sqlite3.Connection) -> None:
            self._fenced(db, lease)
            db.execute(
                "DELETE FROM ita_outcomes_v2 WHERE run_id = ? AND idx = ?",
                (lease.run_id, lease.index),
            )
            db.executemany(
                "INSERT INTO ita_outcomes_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            db.execute(
                "UPDATE ita_chunks_v2 SET state = ?, owner = NULL, expires = NULL, in_doubt = 0 "
                "WHERE run_id = ? AND idx = ?",
                (DONE, lease.run_id, lease.index),
            )

        await self._call(work)

    # -- reads --------------------------------------------------------------------------------

    async def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """The chunk's record, or ``None``."""

        def work(db: sqlite3.Connection) -> ChunkRecord | None:
            row = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks_v2 WHERE run_id = ? AND idx = ?",
                (run_id, index),
            ).fetchone()
            return chunk_of(row) if row else None

        return await self._call(work, write=False)

    async def chunks(self, run_id: str) -> list[ChunkRecord]:
        """Every chunk of the run, by index."""

        def work(db: sqlite3.Connection) -> list[ChunkRecord]:
            rows = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks_v2 WHERE run_id = ? AND NOT {IS_END} "
                "ORDER BY idx",
                (run_id,),
            ).fetchall()
            return [chunk_of(r) for r in rows]

        return await self._call(work, write=False)

    async def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """The outcomes stored by :meth:`mark_done`, in order."""

        def work(db: sqlite3.Connection) -> list[ItemOutcome]:
            rows = db.execute(
                "SELECT kind, key, status, ok, info, batch_id, item_id, resubmitted, "
                "analysis_id FROM ita_outcomes_v2 WHERE run_id = ? AND idx = ? ORDER BY pos",
                (run_id, index),
            ).fetchall()
            return outcomes_of(index, rows)

        return await self._call(work, write=False)

    async def aclose(self) -> None:
        """Close the database."""
        self.close()

    def close(self) -> None:
        """Close the database (synchronous form, for ``finally`` blocks)."""
        with self._lock:
            self._db.close()
