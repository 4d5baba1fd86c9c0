"""Turn what a caller passes as ``journal=`` into a :class:`Journal` backend."""

from __future__ import annotations

from pathlib import Path

from ._journal_memory import NullJournal
from ._journal_protocol import Journal
from ._journal_sqlite import SqliteJournal

__all__ = ("is_database_url", "open_journal")

_DATABASE_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(spec: object) -> bool:
    """Whether ``spec`` names a PostgreSQL journal rather than a SQLite file."""
    return isinstance(spec, str) and spec.startswith(_DATABASE_SCHEMES)


def open_journal(spec: str | Path | Journal | None) -> tuple[Journal, bool]:
    """The journal ``spec`` names, and whether the caller opened it (and so must close it).

    ``postgresql://...`` (or ``postgres://``) is a :class:`PostgresJournal` (the ``postgres``
    extra), any other string or path a :class:`SqliteJournal` file, ``None`` a
    :class:`NullJournal`, and a :class:`Journal` itself is used as it is.
    """
    if is_database_url(spec):
        from ._journal_postgres import PostgresJournal

        return PostgresJournal(str(spec)), True
    if isinstance(spec, str | Path):
        return SqliteJournal(spec), True
    if spec is None:
        return NullJournal(), False
    return spec, False
