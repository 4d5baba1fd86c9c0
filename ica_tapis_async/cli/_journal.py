"""``--journal FILE``, checked before anything is sent: a usable place, a journal if it exists."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..orchestrator._journal_open import is_database_url
from ._config import ConfigError, Settings

__all__ = ("check_journal", "check_readable_journal", "check_writable")


def _is_journal_table(name: str) -> bool:
    # The SQLite journal's tables: "runs" (first layout) or "ita_runs…" (later layouts).
    return name == "runs" or name.startswith("ita_")


def check_writable(path: str) -> None:
    """Raise :class:`ConfigError` unless the SQLite journal ``path`` (an existing file) and its
    directory can be written: SQLite keeps ``FILE-wal`` and ``FILE-shm`` beside the file, even
    to read a journal in WAL mode, so a read-only directory cannot hold a journal in use.
    """
    target = Path(path)
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"--journal {path}: its directory {target.parent} is not writable (the journal "
            f"writes {target.name}-wal and {target.name}-shm beside it): copy the journal to "
            "a writable directory and use that copy"
        )
    if not os.access(target, os.R_OK | os.W_OK):
        raise ConfigError(f"--journal {path}: the file is not writable (or readable) by this user")


def check_journal(path: str | None, settings: Settings) -> str | None:
    """``path`` if it can hold this run's journal (a PostgreSQL URL is passed through).

    Raises:
        ConfigError: its directory is missing, it is a directory, or it is a file that is not
            a journal (a journal that does not exist yet is created by the run).
    """
    if path is None:
        return None
    if settings.simulator:
        raise ConfigError("--journal cannot be combined with --simulator")
    try:
        database = is_database_url(path)
    except ValueError as exc:
        raise ConfigError(f"--{exc}") from None
    if database:
        return path  # a PostgreSQL journal: the run connects (and creates its tables) itself
    target = Path(path)
    if not target.parent.is_dir():
        raise ConfigError(f"--journal {path}: directory {target.parent} does not exist")
    if target.is_dir():
        raise ConfigError(f"--journal {path}: is a directory; give a file name")
    if not target.exists():
        if not os.access(target.parent, os.W_OK | os.X_OK):
            raise ConfigError(f"--journal {path}: cannot create a file in {target.parent}")
        return path
    check_writable(path)
    if target.stat().st_size == 0:
        return path
    try:
        db = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        # Locked, unreadable or unopenable: a problem of access, not of the file's contents.
        raise ConfigError(f"--journal {path}: cannot be read ({exc})") from None
    except sqlite3.DatabaseError:
        raise ConfigError(f"--journal {path}: not a journal (not an SQLite file)") from None
    if names and not any(_is_journal_table(name) for name in names):
        raise ConfigError(f"--journal {path}: an SQLite file, but not a journal of this tool")
    return path


async def check_readable_journal(spec: str) -> None:
    """Raise :class:`ConfigError` unless ``spec`` (an existing file, or a PostgreSQL URL) holds
    a journal; read only: opening a journal creates its tables, and a tool that only reads one
    (``runs``, ``status``, ``export``) must leave an empty file, another program's SQLite
    database or an empty PostgreSQL database as it found it.
    """
    if is_database_url(spec):
        from .._redact import redact_url
        from ..orchestrator._postgres_schema import SCHEMA_VERSION
        from ._dry_run_journal import database_schema

        version = await database_schema(spec)
        if version is None:
            raise ConfigError(f"--journal {redact_url(spec)}: holds no journal, no run recorded")
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"--journal {redact_url(spec)}: the journal's schema is version {version}, "
                f"newer than this release's {SCHEMA_VERSION}: upgrade ica_tapis_async"
            )
        return
    if not _holds_tables(spec):  # an empty file, or an SQLite file without a table
        raise ConfigError(f"--journal {spec}: no run recorded yet")


def _holds_tables(path: str) -> bool:
    """Whether the SQLite file ``path`` holds any table, read only; raises
    :class:`ConfigError` for a file that is not SQLite or another program's database."""
    if Path(path).stat().st_size == 0:
        return False
    check_journal(path, Settings())
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchone() is not None
    finally:
        db.close()
