"""The journal tables' columns and the row <-> record conversions the SQLite and PostgreSQL
journals share; the SQLite schema."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from ._journal_protocol import END_DIGEST, ChunkRecord, ChunkState, RunRecord
from ._report import ItemOutcome

__all__ = (
    "CHUNK_COLUMNS",
    "IS_END",
    "SCHEMA",
    "chunk_of",
    "outcome_rows",
    "outcomes_of",
    "run_of",
    "unnamed_run",
)

# The end-of-input entry, as a literal: a partial index matches only a query that spells out
# its condition (a bound parameter does not).
IS_END = f"digest = '{END_DIGEST}'"

# Table names carry a version: a file written by an older release is left alone instead of
# being misread. The end-of-input index came later; it is created in files that lack it.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS ita_runs_v2 (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, project_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL, started REAL NOT NULL, finished REAL
);
CREATE TABLE IF NOT EXISTS ita_chunks_v2 (
    run_id TEXT NOT NULL, idx INTEGER NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL,
    state TEXT NOT NULL, batch_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    first_sent REAL, resubmitted INTEGER NOT NULL DEFAULT 0,
    in_doubt INTEGER NOT NULL DEFAULT 0, owner TEXT, token INTEGER NOT NULL DEFAULT 0,
    expires REAL, PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS ita_outcomes_v2 (
    run_id TEXT NOT NULL, idx INTEGER NOT NULL, pos INTEGER NOT NULL, kind TEXT NOT NULL,
    key TEXT NOT NULL, status TEXT NOT NULL, ok INTEGER NOT NULL, info TEXT, batch_id TEXT,
    item_id TEXT, resubmitted INTEGER NOT NULL, analysis_id TEXT,
    PRIMARY KEY (run_id, idx, pos)
);
CREATE INDEX IF NOT EXISTS ita_chunks_v2_end ON ita_chunks_v2 (run_id, idx) WHERE {IS_END};
"""

CHUNK_COLUMNS = (
    "idx, key, digest, state, batch_id, attempts, first_sent, resubmitted, in_doubt, owner, "
    "token, expires"
)


def chunk_of(row: Sequence[Any]) -> ChunkRecord:
    return ChunkRecord(
        index=int(row[0]),
        key=str(row[1]),
        digest=str(row[2]),
        state=cast(ChunkState, row[3]),
        batch_id=row[4],
        attempts=int(row[5]),
        first_sent_at=row[6],
        resubmitted=bool(row[7]),
        in_doubt=bool(row[8]),
        owner=row[9],
        lease_token=int(row[10]),
        lease_expires_at=row[11],
    )


def run_of(row: Sequence[Any]) -> RunRecord:
    return RunRecord(str(row[0]), str(row[1]), str(row[2]), str(row[3]), row[4], row[5])


def outcome_rows(run_id: str, index: int, outcomes: Sequence[ItemOutcome]) -> list[tuple[Any, ...]]:
    """Rows of ``ita_outcomes_v2`` for a chunk's outcomes, in order."""
    return [
        (
            run_id,
            index,
            pos,
            o.kind,
            o.key,
            o.status,
            int(o.ok),
            o.info,
            o.batch_id,
            o.item_id,
            int(o.resubmitted),
            o.analysis_id,
        )
        for pos, o in enumerate(outcomes)
    ]


def outcomes_of(index: int, rows: Sequence[Sequence[Any]]) -> list[ItemOutcome]:
    """Outcomes from rows of ``kind, key, status, ok, info, batch_id, item_id, resubmitted,
    analysis_id``."""
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


def unnamed_run(db: sqlite3.Connection, kind: str, project_id: str, fingerprint: str) -> Any:
    """The SQLite row of the run to open without a run id, or ``None`` for a new run. A run
    of this kind and project that sent something (has chunks) comes back, to be refused as a
    mismatch, when it is unfinished with another fingerprint, or the latest while none has
    this fingerprint (see :meth:`Journal.open_run`)."""
    used = "EXISTS (SELECT 1 FROM ita_chunks_v2 c WHERE c.run_id = r.run_id)"
    latest = "ORDER BY started DESC, rowid DESC LIMIT 1"
    for sql, args in (
        (
            f"SELECT * FROM ita_runs_v2 r WHERE kind = ? AND project_id = ? "
            f"AND fingerprint != ? AND finished IS NULL AND {used} LIMIT 1",
            (kind, project_id, fingerprint),
        ),
        (
            f"SELECT * FROM ita_runs_v2 WHERE kind = ? AND project_id = ? AND fingerprint = ? "
            f"{latest}",
            (kind, project_id, fingerprint),
        ),
        (
            f"SELECT * FROM ita_runs_v2 r WHERE kind = ? AND project_id = ? AND {used} {latest}",
            (kind, project_id),
        ),
    ):
        row = db.execute(sql, args).fetchone()
        if row is not None:
            return row
    return None
