"""Listing a journal's runs (for ``ica-tapis-async runs``): one read beside the protocol.

The :class:`Journal` protocol has no "list runs" method, and the journals are being worked on
elsewhere; this one read of the runs table of each built-in backend stays out of their modules.
"""

from __future__ import annotations

from typing import Any

from ._journal_memory import MemoryJournal
from ._journal_postgres import PostgresJournal
from ._journal_protocol import Journal, RunRecord
from ._journal_rows import run_of
from ._journal_sqlite import SqliteJournal
from ._postgres_store import RUN_COLUMNS

__all__ = ("list_runs",)


async def list_runs(journal: Journal) -> list[RunRecord]:
    """Every run of ``journal``, the most recently started first.

    Raises:
        TypeError: a journal of another implementation (it has no such read).
    """
    if isinstance(journal, SqliteJournal):

        def read(db: Any) -> list[RunRecord]:
            rows = db.execute("SELECT * FROM ita_runs_v2 ORDER BY started DESC, run_id").fetchall()
            return [run_of(row) for row in rows]

        return await journal._call(read, write=False)
    if isinstance(journal, PostgresJournal):

        async def fetch(conn: Any) -> list[RunRecord]:
            cursor = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM ita_runs ORDER BY started DESC, run_id"
            )
            return [run_of(row) for row in await cursor.fetchall()]

        result: list[RunRecord] = await journal._store.call(fetch)
        return result
    if isinstance(journal, MemoryJournal):
        return sorted(journal._runs.values(), key=lambda r: (-r.started_at, r.run_id))
    raise TypeError(f"cannot list the runs of a {type(journal).__name__}")
