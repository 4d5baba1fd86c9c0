"""Turn what a caller passes as ``journal=`` into a :class:`Journal` backend."""

from __future__ import annotations

import re
from pathlib import Path

from .._errors import RequestValidationError
from .._redact import ambiguous_user_info, redact_url
from ._journal_memory import NullJournal
from ._journal_protocol import Journal
from ._journal_sqlite import SqliteJournal

__all__ = ("is_database_url", "open_journal")

_DATABASE_SCHEMES = ("postgresql://", "postgres://")
# "postgresql:/u:pw@db", "PostgreSQL://...", "postgres:..." : meant as a URL, not a file name.
_ALMOST_A_URL = re.compile(r"^\s*postgres(?:ql)?:", re.IGNORECASE)


def is_database_url(spec: object) -> bool:
    """Whether ``spec`` names a PostgreSQL journal rather than a SQLite file.

    Raises:
        RequestValidationError: ``spec`` starts like a PostgreSQL URL but is not one (a
            mistyped scheme would otherwise become a SQLite file named after the URL), or its
            password holds a character libpq would end it at (``@``, ``/``) unencoded.
    """
    if not isinstance(spec, str):
        return False
    if spec.startswith(_DATABASE_SCHEMES):
        ambiguous = ambiguous_user_info(spec)
        if ambiguous is not None:
            raise RequestValidationError(f"{redact_url(spec)!r}: {ambiguous}", field="journal")
        return True
    if _ALMOST_A_URL.match(spec):
        raise RequestValidationError(
            f"{redact_url(spec)!r} is not a PostgreSQL URL: write "
            "postgresql://user:password@host:port/database",
            field="journal",
        )
    return False


def open_journal(spec: str | Path | Journal | None) -> tuple[Journal, bool]:
    """The journal ``spec`` names, and whether the caller opened it (and so must close it).

    ``postgresql://...`` (or ``postgres://``) is a :class:`PostgresJournal` (the ``postgres``
    extra), any other string or path a :class:`SqliteJournal` file, ``None`` a
    :class:`NullJournal`, and a :class:`Journal` itself is used as it is.
    """
    if is_database_url(spec):
        from ._journal_postgres import PostgresJournal

        try:
            return PostgresJournal(str(spec)), True
        except ValueError as exc:
            # A URL libpq cannot read (its message shows the URL redacted): the caller's
            # input, so typed like the checks above, not a crash.
            raise RequestValidationError(str(exc), field="journal") from None
    if isinstance(spec, str | Path):
        return SqliteJournal(spec), True
    if spec is None:
        return NullJournal(), False
    return spec, False
