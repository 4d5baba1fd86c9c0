"""The PostgreSQL journal: one run's chunks, leases and outcomes shared by workers on many machines.

Every method is one short transaction on a pooled connection (psycopg 3), never held open
across an HTTP call. Chunks are claimed row by row with ``SELECT ... FOR UPDATE SKIP LOCKED``
(a claimer never waits behind another claimer: a chunk being claimed right now counts as
held), and every write about a chunk is fenced by its lease token. Times are the database's
own clock, so workers with skewed clocks agree on when a lease lapses.

A connection lost mid-call (a restarted server, a proxy dropping idle connections) is retried
on a fresh connection a few times; every write is safe to repeat.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ._journal_protocol import (
    DONE,
    END_DIGEST,
    PLANNED,
    ChunkRecord,
    Claim,
    Lease,
    RunRecord,
    digest_mismatch,
    past_end_mismatch,
    run_mismatch,
    shorter_mismatch,
    untrusted,
)
from ._journal_rows import IS_END
from ._postgres_fleet import PostgresFleet
from ._postgres_schema import LOCK_KEY
from ._postgres_store import (
    CHUNK_COLUMNS,
    NOW,
    OUTCOME_COLUMNS,
    RUN_COLUMNS,
    PostgresStore,
    chunk_row,
    one,
    run_row,
)
from ._report import ItemOutcome

__all__ = ("PostgresJournal",)


class PostgresJournal(PostgresFleet):
    """A :class:`Journal` in PostgreSQL, shared by every worker of a run on any machine.

    The schema (tables ``ita_*``) is created, or migrated, on first use. Pass the journal, or
    just its URL, to the orchestrator: ``BatchOrchestrator(ica, pid, journal="postgresql://...")``.

    Args:
        dsn: a ``postgresql://`` (or ``postgres://``) URL; a password in it is never shown.
        min_size / max_size: connections the pool keeps / may open; heartbeats and fenced
            writes have up to ``max(1, max_size // 2)`` more of their own, so that they never
            wait behind claims, surveys and reads.
        connect_timeout: seconds to wait for a connection (from the pool or the server).
        retries: attempts after a lost connection before the error propagates.
        stall_timeout: seconds a transaction may sit idle, or wait for a row lock, before the
            server ends it: a frozen worker cannot keep a chunk from being taken over.

    Raises:
        ImportError: the ``postgres`` extra is not installed.
        ValueError: ``dsn`` is not a PostgreSQL URL, or a size is not positive.

    Example::

        async with PostgresJournal("postgresql://ingest@db/ingest") as journal:
            report = await BatchOrchestrator(ica, pid, journal=journal, run_id="n-1").link(ids)
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 10.0,
        retries: int = 4,
        stall_timeout: float = 5.0,
    ) -> None:
        self._store = PostgresStore(
            dsn,
            min_size=min_size,
            max_size=max_size,
            connect_timeout=connect_timeout,
            retries=retries,
            stall_timeout=stall_timeout,
        )
        self.url = self._store.url
        self._call = self._store.call
        self._one = one

    def __repr__(self) -> str:
        return f"PostgresJournal({self.url!r})"

    async def __aenter__(self) -> PostgresJournal:
        try:
            # Through call(): retried, and given up as JournalUnavailableError with the
            # server's reason (open() alone lets the pool's bare PoolTimeout out).
            await self._store.call(_nothing)
        except BaseException:
            # ``async with`` does not call __aexit__ when __aenter__ fails: close the pool
            # here, or its connections and background tasks outlive the refused journal.
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- runs ---------------------------------------------------------------------------------

    async def open_run(
        self, kind: str, project_id: str, run_id: str | None, fingerprint: str
    ) -> RunRecord:
        """Create or find the run (see :meth:`Journal.open_run`)."""

        where = f" {self.url}"

        async def work(conn: Any) -> RunRecord:
            # Serialise run creation so that two workers without a run id agree on one run.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            if run_id is not None:
                row = await self._one(
                    conn, f"SELECT {RUN_COLUMNS} FROM ita_runs WHERE run_id = %s", (run_id,)
                )
            else:
                row = await self._unnamed_run(conn, kind, project_id, fingerprint)
            if row is not None:
                record = run_row(row)
                if (record.kind, record.project_id, record.fingerprint) != (
                    kind,
                    project_id,
                    fingerprint,
                ):
                    raise run_mismatch(record, kind, project_id, fingerprint, where=where)
                return record
            new_id = run_id if run_id is not None else uuid.uuid4().hex[:16]
            row = await self._one(
                conn,
                f"INSERT INTO ita_runs (run_id, kind, project_id, fingerprint, started) "
                f"VALUES (%s, %s, %s, %s, {NOW}) RETURNING {RUN_COLUMNS}",
                (new_id, kind, project_id, fingerprint),
            )
            return run_row(row)

        return await self._call(work)

    async def finish_run(self, run_id: str) -> None:
        """Set the run's finish time once."""

        async def work(conn: Any) -> None:
            await conn.execute(
                f"UPDATE ita_runs SET finished = {NOW} WHERE run_id = %s AND finished IS NULL",
                (run_id,),
            )

        await self._call(work)

    # -- leases -------------------------------------------------------------------------------

    async def claim(
        self, run_id: str, index: int, *, key: str, digest: str, owner: str, ttl_s: float
    ) -> Claim:
        """Take the chunk's lease if it is free, lapsed or ours (see :meth:`Journal.claim`)."""
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, not {ttl_s!r}")

        async def work(conn: Any) -> Claim:
            # An end of input locks the run's row against every insert of an entry (each
            # takes a key-share lock on it through the foreign key), so that its check of the
            # entries above it and a concurrent insert cannot both pass.
            lock = " FOR UPDATE" if digest == END_DIGEST else ""
            run = await self._one(
                conn, f"SELECT kind FROM ita_runs WHERE run_id = %s{lock}", (run_id,)
            )
            if run is None:
                raise ValueError(f"run {run_id!r} is not in the journal")
            kind = str(run[0])
            if digest == END_DIGEST and await self._one(
                conn,
                "SELECT 1 FROM ita_chunks WHERE run_id = %s AND idx > %s LIMIT 1",
                (run_id, index),
            ):
                raise shorter_mismatch(run_id, kind, index)
            inserted = await self._one(
                conn,
                "INSERT INTO ita_chunks (run_id, idx, key, digest, state, owner, token, expires) "
                f"VALUES (%s, %s, %s, %s, %s, %s, 1, {NOW} + %s) "
                f"ON CONFLICT (run_id, idx) DO NOTHING RETURNING {CHUNK_COLUMNS}",
                (run_id, index, key, digest, PLANNED, owner, ttl_s),
            )
            if inserted is not None:
                # After the insert (which waited out an end of input being recorded), this
                # statement sees that end; raising rolls the insert back.
                end = await self._one(
                    conn,
                    f"SELECT min(idx) FROM ita_chunks WHERE run_id = %s AND {IS_END}",
                    (run_id,),
                )
                if end[0] is not None and int(end[0]) < index:
                    raise past_end_mismatch(run_id, kind, int(end[0]))
                record = chunk_row(inserted)
                expires = float(record.lease_expires_at or 0.0)
                return Claim(record, Lease(run_id, index, owner, 1, expires))
            row = await self._one(
                conn,
                f"SELECT {CHUNK_COLUMNS}, {NOW} FROM ita_chunks "
                "WHERE run_id = %s AND idx = %s FOR UPDATE SKIP LOCKED",
                (run_id, index),
            )
            if row is None:
                # Another worker is claiming it this instant: it is held, as far as we know.
                current = await self._one(
                    conn,
                    f"SELECT {CHUNK_COLUMNS} FROM ita_chunks WHERE run_id = %s AND idx = %s",
                    (run_id, index),
                )
                self._check_digest(chunk_row(current), run_id, kind, digest)
                return Claim(chunk_row(current))
            record, now = chunk_row(row), float(row[12])
            self._check_digest(record, run_id, kind, digest)
            if record.final:
                return Claim(record)
            if untrusted(record, owner, now, ttl_s):
                cut = await self._one(
                    conn,
                    f"UPDATE ita_chunks SET expires = {NOW} + %s WHERE run_id = %s AND idx = %s "
                    f"RETURNING {CHUNK_COLUMNS}",
                    (ttl_s, run_id, index),
                )
                return Claim(chunk_row(cut))
            free = record.owner is None or (record.lease_expires_at or 0.0) <= now
            if record.owner != owner and not free:
                return Claim(record)
            keep = record.owner == owner and not free
            token = record.lease_token if keep else record.lease_token + 1
            updated = await self._one(
                conn,
                f"UPDATE ita_chunks SET owner = %s, token = %s, expires = {NOW} + %s "
                f"WHERE run_id = %s AND idx = %s RETURNING {CHUNK_COLUMNS}",
                (owner, token, ttl_s, run_id, index),
            )
            record = chunk_row(updated)
            expires = float(record.lease_expires_at or 0.0)
            return Claim(record, Lease(run_id, index, owner, token, expires))

        return await self._call(work)

    @staticmethod
    def _check_digest(record: ChunkRecord, run_id: str, kind: str, digest: str) -> None:
        if record.digest != digest:
            raise digest_mismatch(run_id, kind, record.index, record.digest, digest)

    async def release(self, lease: Lease) -> None:
        """Give the chunk up if the lease is still ours; otherwise do nothing."""

        async def work(conn: Any) -> None:
            await conn.execute(
                "UPDATE ita_chunks SET owner = NULL, expires = NULL WHERE run_id = %s "
                "AND idx = %s AND owner = %s AND token = %s AND state <> %s",
                (lease.run_id, lease.index, lease.owner, lease.token, DONE),
            )

        await self._call(work, priority=True)

    # -- chunk changes ------------------------------------------------------------------------

    async def mark_sending(self, lease: Lease) -> ChunkRecord:
        """Record an attempt to send, before the POST; fenced."""

        async def work(conn: Any) -> ChunkRecord:
            await self._fenced(conn, lease)
            # The right-hand sides see the row as it was: a chunk already sending or
            # submitted is being sent again.
            row = await self._one(
                conn,
                "UPDATE ita_chunks SET state = 'sending', attempts = attempts + 1, "
                f"first_sent = COALESCE(first_sent, {NOW}), "
                "resubmitted = resubmitted OR state IN ('sending', 'submitted') "
                f"WHERE run_id = %s AND idx = %s RETURNING {CHUNK_COLUMNS}",
                (lease.run_id, lease.index),
            )
            return chunk_row(row)

        return await self._call(work, priority=True)

    async def mark_unsent(self, lease: Lease, attempt: int) -> ChunkRecord:
        """Take back attempt ``attempt`` (it never connected); fenced, safe to repeat."""

        async def work(conn: Any) -> ChunkRecord:
            await self._fenced(conn, lease)
            # The right-hand sides see the row as it was (attempts before the decrement).
            await conn.execute(
                "UPDATE ita_chunks SET attempts = attempts - 1, "
                "state = CASE WHEN attempts > 1 THEN state ELSE 'planned' END, "
                "first_sent = CASE WHEN attempts > 1 THEN first_sent END "
                "WHERE run_id = %s AND idx = %s AND attempts = %s",
                (lease.run_id, lease.index, attempt),
            )
            row = await self._one(
                conn,
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks WHERE run_id = %s AND idx = %s",
                (lease.run_id, lease.index),
            )
            return chunk_row(row)

        return await self._call(work, priority=True)

    async def _set(self, lease: Lease, assignments: str, values: tuple[Any, ...]) -> None:
        async def work(conn: Any) -> None:
            await self._fenced(conn, lease)
            await conn.execute(
                f"UPDATE ita_chunks SET {assignments} WHERE run_id = %s AND idx = %s",
                (*values, lease.run_id, lease.index),
            )

        await self._call(work, priority=True)

    async def mark_resubmitted(self, lease: Lease) -> None:
        """Set the sticky re-sent flag; fenced."""
        await self._set(lease, "resubmitted = true", ())

    async def mark_in_doubt(self, lease: Lease) -> None:
        """Flag the chunk's fate as unknown (not re-sent); fenced."""
        await self._set(lease, "in_doubt = true", ())

    async def mark_submitted(self, lease: Lease, batch_id: str) -> None:
        """Record the server's batch id; fenced.

        A lease that lapsed while nobody took the chunk over (its token is still the current
        one: a claim by anyone else would have raised it) still records the id, as every
        fenced write does: the batch exists on the server, and a re-claim must follow it
        instead of sending the chunk again (a starved worker whose heartbeats could not get
        through meets this). The lease is not extended.
        """
        await self._set(lease, "state = 'submitted', batch_id = %s, in_doubt = false", (batch_id,))

    async def mark_done(self, lease: Lease, outcomes: Sequence[ItemOutcome]) -> None:
        """Store the outcomes and mark the chunk done, releasing it, in one transaction."""
        rows = [
            (lease.run_id, lease.index, pos, o.kind, o.key, o.status, o.ok, o.info, o.batch_id,
             o.item_id, o.resubmitted, o.analysis_id)
            for pos, o in enumerate(outcomes)
        ]  # fmt: skip

        async def work(conn: Any) -> None:
            await self._fenced(conn, lease)
            await conn.execute(
                "DELETE FROM ita_outcomes WHERE run_id = %s AND idx = %s",
                (lease.run_id, lease.index),
            )
            async with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY ita_outcomes ({OUTCOME_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows:
                    await copy.write_row(row)
            await conn.execute(
                "UPDATE ita_chunks SET state = 'done', owner = NULL, expires = NULL, "
                "in_doubt = false, done_by = %s WHERE run_id = %s AND idx = %s",
                (lease.owner, lease.run_id, lease.index),
            )

        async def retry_work(conn: Any) -> None:
            done = await self._one(
                conn,
                "SELECT 1 FROM ita_chunks WHERE run_id = %s AND idx = %s AND state = 'done' "
                "AND done_by = %s AND token = %s",
                (lease.run_id, lease.index, lease.owner, lease.token),
            )
            if done is None:  # else: our first attempt committed before the connection dropped
                await work(conn)

        await self._call(work, retry_work, priority=True)

    async def aclose(self) -> None:
        """Close the pool's connections; idempotent."""
        await self._store.aclose()


async def _nothing(conn: Any) -> None:
    """No work: the call opens the store (and its schema) on the way."""
