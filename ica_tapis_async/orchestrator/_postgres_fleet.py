"""What the PostgreSQL journal offers a fleet: one query for many chunks, one heartbeat for all,
and the lease fence of every write.

A worker that waits for chunks other workers hold surveys all of them, and reads the
outcomes of those that finished, in one transaction, and renews every lease it holds in one
statement: the journal's work per chunk does not grow with the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._fleet import Survey
from ._journal_protocol import DONE, ChunkRecord, Lease, LeaseLostError
from ._journal_rows import IS_END
from ._postgres_reads import PostgresReads
from ._postgres_store import CHUNK_COLUMNS, NOW, chunk_row, one
from ._report import ItemOutcome

__all__ = ("PostgresFleet",)


class PostgresFleet(PostgresReads):
    """The fleet's calls of :class:`PostgresJournal` (see ``FleetJournal``), and the fence
    every write about a chunk goes through."""

    async def _fenced(self, conn: Any, lease: Lease) -> ChunkRecord:
        # An expired lease nobody claimed since is still current: only a claim (with the next
        # token) ends it, so a forward step of the journal's clock cuts off no live holder.
        row = await one(
            conn,
            f"SELECT {CHUNK_COLUMNS} FROM ita_chunks WHERE run_id = %s AND idx = %s FOR UPDATE",
            (lease.run_id, lease.index),
        )
        where = f"chunk {lease.index} of run {lease.run_id}"
        if row is None:
            raise LeaseLostError(f"{where} is not in the journal")
        record = chunk_row(row)
        if record.owner != lease.owner or record.lease_token != lease.token:
            raise LeaseLostError(
                f"{where} is held by another worker (token {record.lease_token}, "
                f"ours {lease.token})"
            )
        if record.state == DONE:
            raise LeaseLostError(f"{where} is already done")
        return record

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend the lease to the database's now + ``ttl_s``; fenced."""

        async def work(conn: Any) -> Lease:
            await self._fenced(conn, lease)
            row = await one(
                conn,
                f"UPDATE ita_chunks SET expires = {NOW} + %s WHERE run_id = %s AND idx = %s "
                "RETURNING expires",
                (ttl_s, lease.run_id, lease.index),
            )
            return Lease(lease.run_id, lease.index, lease.owner, lease.token, float(row[0]))

        return await self._store.call(work, priority=True)

    async def survey(self, run_id: str, indices: Sequence[int]) -> Survey:
        """In one transaction: the journal's clock now, the run's highest chunk index
        (``None`` before its first chunk; its end of input is not a chunk), the records of
        those of ``indices`` that exist, and the outcomes of those that are done."""

        async def work(conn: Any) -> Survey:
            head = await one(
                conn,
                f"SELECT {NOW}, max(idx) FROM ita_chunks WHERE run_id = %s AND NOT {IS_END}",
                (run_id,),
            )
            top = None if head[1] is None else int(head[1])
            if not indices:
                return Survey(float(head[0]), top, [], {})
            cursor = await conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks WHERE run_id = %s AND idx = ANY(%s)",
                (run_id, list(indices)),
            )
            records = [chunk_row(r) for r in await cursor.fetchall()]
            done = [r.index for r in records if r.final]
            outcomes: dict[int, list[ItemOutcome]] = {i: [] for i in done}
            if done:
                cursor = await conn.execute(
                    "SELECT idx, kind, key, status, ok, info, batch_id, item_id, resubmitted, "
                    "analysis_id FROM ita_outcomes WHERE run_id = %s AND idx = ANY(%s) "
                    "ORDER BY idx, pos",
                    (run_id, done),
                )
                for r in await cursor.fetchall():
                    outcomes[int(r[0])].append(
                        ItemOutcome(
                            kind=r[1], key=r[2], status=r[3], ok=bool(r[4]), info=r[5],
                            batch_id=r[6], item_id=r[7], chunk=int(r[0]),
                            resubmitted=bool(r[8]), analysis_id=r[9],
                        )
                    )  # fmt: skip
            return Survey(float(head[0]), top, records, outcomes)

        return await self._store.call(work)

    async def renew_all(self, leases: Sequence[Lease], ttl_s: float) -> dict[int, Lease]:
        """Renew every lease of one run and owner that is still current, in one statement.
        Returns the renewed leases by chunk index: a lease missing from the answer is lost
        (taken over or done). A lease that lapsed while nobody took the chunk over (its token
        is still the current one: anyone else's claim would have raised it) is renewed too: a
        heartbeat that a slow journal held up past the lease must not stop the work (and
        have it sent again) when nobody else has started it."""
        if not leases:
            return {}
        run_id, owner = leases[0].run_id, leases[0].owner
        if any(lease.run_id != run_id or lease.owner != owner for lease in leases):
            raise ValueError("renew_all renews the leases of one run and one owner")

        async def work(conn: Any) -> dict[int, Lease]:
            cursor = await conn.execute(
                f"UPDATE ita_chunks c SET expires = {NOW} + %s "
                "FROM unnest(%s::integer[], %s::bigint[]) AS l(idx, token) "
                "WHERE c.run_id = %s AND c.idx = l.idx AND c.token = l.token "
                "AND c.owner = %s AND c.state <> %s "
                "RETURNING c.idx, c.token, c.expires",
                (
                    ttl_s,
                    [lease.index for lease in leases],
                    [lease.token for lease in leases],
                    run_id,
                    owner,
                    DONE,
                ),
            )
            return {
                int(idx): Lease(run_id, int(idx), owner, int(token), float(expires))
                for idx, token, expires in await cursor.fetchall()
            }

        return await self._store.call(work, priority=True)
