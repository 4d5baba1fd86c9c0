"""The PostgreSQL journal's reads: runs, chunks, outcomes and counts, each one short query."""

from __future__ import annotations

from typing import Any

from ._journal_protocol import ChunkRecord, RunRecord
from ._journal_rows import IS_END
from ._postgres_store import (
    CHUNK_COLUMNS,
    NOW,
    RUN_COLUMNS,
    PostgresStore,
    chunk_row,
    one,
    run_row,
)
from ._report import ItemOutcome

__all__ = ("PostgresReads",)


class PostgresReads:
    """What :class:`PostgresJournal` reads; it keeps the writes (leases, fencing)."""

    _store: PostgresStore

    @staticmethod
    async def _unnamed_run(conn: Any, kind: str, project_id: str, fingerprint: str) -> Any:
        """The row of the run to open without a run id, or ``None`` for a new run. A run of
        this kind and project that sent something is refused (returned, as a mismatch) when
        it is unfinished with other options, or the latest while none has these options."""
        used = "EXISTS (SELECT 1 FROM ita_chunks c WHERE c.run_id = r.run_id)"
        other = await one(
            conn,
            f"SELECT {RUN_COLUMNS} FROM ita_runs r WHERE kind = %s AND project_id = %s "
            f"AND fingerprint <> %s AND finished IS NULL AND {used} LIMIT 1",
            (kind, project_id, fingerprint),
        )
        if other is not None:
            return other
        same = await one(
            conn,
            f"SELECT {RUN_COLUMNS} FROM ita_runs WHERE kind = %s AND project_id = %s "
            "AND fingerprint = %s ORDER BY started DESC, seq DESC LIMIT 1",
            (kind, project_id, fingerprint),
        )
        if same is not None:
            return same
        return await one(
            conn,
            f"SELECT {RUN_COLUMNS} FROM ita_runs r WHERE kind = %s AND project_id = %s "
            f"AND {used} ORDER BY started DESC, seq DESC LIMIT 1",
            (kind, project_id),
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or ``None``."""

        async def work(conn: Any) -> RunRecord | None:
            row = await one(
                conn, f"SELECT {RUN_COLUMNS} FROM ita_runs WHERE run_id = %s", (run_id,)
            )
            return run_row(row) if row else None

        return await self._store.call(work)

    async def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """The chunk's record, or ``None``."""

        async def work(conn: Any) -> ChunkRecord | None:
            row = await one(
                conn,
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks WHERE run_id = %s AND idx = %s",
                (run_id, index),
            )
            return chunk_row(row) if row else None

        return await self._store.call(work)

    async def chunks(self, run_id: str) -> list[ChunkRecord]:
        """Every chunk of the run, by index."""

        async def work(conn: Any) -> list[ChunkRecord]:
            cursor = await conn.execute(
                f"SELECT {CHUNK_COLUMNS} FROM ita_chunks WHERE run_id = %s AND NOT {IS_END} "
                "ORDER BY idx",
                (run_id,),
            )
            return [chunk_row(r) for r in await cursor.fetchall()]

        return await self._store.call(work)

    async def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """The outcomes stored by :meth:`mark_done`, in order."""

        async def work(conn: Any) -> list[ItemOutcome]:
            cursor = await conn.execute(
                "SELECT kind, key, status, ok, info, batch_id, item_id, resubmitted, "
                "analysis_id FROM ita_outcomes WHERE run_id = %s AND idx = %s ORDER BY pos",
                (run_id, index),
            )
            return [
                ItemOutcome(
                    kind=r[0], key=r[1], status=r[2], ok=bool(r[3]), info=r[4], batch_id=r[5],
                    item_id=r[6], chunk=index, resubmitted=bool(r[7]), analysis_id=r[8],
                )
                for r in await cursor.fetchall()
            ]  # fmt: skip

        return await self._store.call(work)

    async def item_counts(self, run_id: str) -> dict[str, int]:
        """How many finished items the run has per status (for status views)."""

        async def work(conn: Any) -> dict[str, int]:
            cursor = await conn.execute(
                "SELECT status, count(*) FROM ita_outcomes WHERE run_id = %s GROUP BY status",
                (run_id,),
            )
            return {str(status): int(count) for status, count in await cursor.fetchall()}

        return await self._store.call(work)

    async def clock(self) -> float:
        """The journal's clock now (POSIX seconds): what lease times are measured on."""

        async def work(conn: Any) -> float:
            return float((await one(conn, f"SELECT {NOW}"))[0])

        return await self._store.call(work)
