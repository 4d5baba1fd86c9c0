"""``--journal FILE``, checked before anything is sent: a usable place, a journal if it exists."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..orchestrator._journal_open import is_database_url
from ._config import ConfigError, Settings

__all__ = ("check_journal", "check_writable")


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
