"""The PostgreSQL journal's schema, versioned: each migration runs once, under a lock.

A database written by a newer release (a higher version than :data:`SCHEMA_VERSION`) is
refused rather than misread.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ("MIGRATIONS", "SCHEMA_VERSION", "JournalSchemaError", "migrate")

# Migration n (1-based) takes the schema from version n - 1 to n. Only ever append.
MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE ita_runs (
        run_id text PRIMARY KEY,
        kind text NOT NULL,
        project_id text NOT NULL,
        fingerprint text NOT NULL,
        started double precision NOT NULL,
        finished double precision,
        seq bigserial NOT NULL
    );
    CREATE INDEX ita_runs_lookup ON ita_runs (kind, project_id, fingerprint, started DESC);
    CREATE TABLE ita_chunks (
        run_id text NOT NULL REFERENCES ita_runs ON DELETE CASCADE,
        idx integer NOT NULL,
        key text NOT NULL,
        digest text NOT NULL,
        state text NOT NULL CHECK (state IN ('planned', 'sending', 'submitted', 'done')),
        batch_id text,
        attempts integer NOT NULL DEFAULT 0,
        first_sent double precision,
        resubmitted boolean NOT NULL DEFAULT false,
        in_doubt boolean NOT NULL DEFAULT false,
        owner text,
        token bigint NOT NULL DEFAULT 0,
        expires double precision,
        done_by text,
        PRIMARY KEY (run_id, idx)
    );
    CREATE TABLE ita_outcomes (
        run_id text NOT NULL,
        idx integer NOT NULL,
        pos integer NOT NULL,
        kind text NOT NULL,
        key text NOT NULL,
        status text NOT NULL,
        ok boolean NOT NULL,
        info text,
        batch_id text,
        item_id text,
        resubmitted boolean NOT NULL,
        analysis_id text,
        PRIMARY KEY (run_id, idx, pos),
        FOREIGN KEY (run_id, idx) REFERENCES ita_chunks ON DELETE CASCADE
    );
    """,
    # 2: finding a run's end-of-input entry (see Journal.claim) without reading its chunks.
    """
    CREATE INDEX ita_chunks_end ON ita_chunks (run_id, idx) WHERE digest = 'end-of-input';
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
# pg_advisory_xact_lock key for migrations and run creation (any fixed 64-bit number).
LOCK_KEY: Final = 0x17A7A95C


class JournalSchemaError(RuntimeError):
    """The database holds a journal schema this release does not know (a newer one)."""


async def migrate(conn: Any) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION` in one transaction.

    Args:
        conn: an open ``psycopg.AsyncConnection`` in autocommit mode.

    Raises:
        JournalSchemaError: the database's schema is newer than this release's.
    """
    async with conn.transaction():
        # Two workers starting at once: the second waits, then finds the schema current.
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        await conn.execute("CREATE TABLE IF NOT EXISTS ita_schema (version integer NOT NULL)")
        cursor = await conn.execute("SELECT version FROM ita_schema")
        row = await cursor.fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise JournalSchemaError(
                f"the journal's schema is version {version}, newer than this release's "
                f"{SCHEMA_VERSION}: upgrade ica_tapis_async on this worker"
            )
        for sql in MIGRATIONS[version:]:
            await conn.execute(sql)
        if row is None:
            await conn.execute("INSERT INTO ita_schema VALUES (%s)", (SCHEMA_VERSION,))
        elif version != SCHEMA_VERSION:
            await conn.execute("UPDATE ita_schema SET version = %s", (SCHEMA_VERSION,))
