"""What the PostgreSQL journal offers a fleet: one query for many chunks, one heartbeat for all.

A worker that waits for chunks other workers hold surveys all of them, and reads the
outcomes of those that finished, in one transaction, and renews every lease it holds in one
statement: the journal's work per chunk does not grow with the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._fleet import Survey
from ._journal_protocol import DONE, Lease
from ._journal_rows import IS_END
from ._postgres_reads import PostgresReads
from ._postgres_store import CHUNK_COLUMNS, NOW, chunk_row, one
from ._report import ItemOutcome

__all__ = ("PostgresFleet",)


class PostgresFleet(PostgresReads):
    """The fleet's calls of :class:`PostgresJournal` (see ``FleetJournal``)."""

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
        """Renew every lease of one run and owner that is still current, in one statement;
        fenced like :meth:`renew`. Returns the renewed leases by chunk index: a lease missing
        from the answer is lost (taken over, lapsed or done)."""
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
                f"AND c.owner = %s AND c.state <> %s AND c.expires > {NOW} "
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
