"""Hide credentials in service URLs before they reach logs, reprs or error messages."""

from __future__ import annotations

import re

__all__ = ("redact_url",)

# User info is read the way libpq reads it: from after the scheme (however many slashes were
# typed) to the first "@" before any "/", so a password may hold "#", "?" or ":".
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)([^@/]*)@")
# A password given as a parameter: in a query (?password=) or a key/value DSN (password=...).
_PASSWORD_PARAM = re.compile(
    r"(^|[?&;\s])((?:ssl)?password|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|[^&;\s]*)", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """``url`` with any password (and a user in a ``//user:password@`` pair) shown as ``***``.

    ``redis://:secret@host:6379/0`` becomes ``redis://***@host:6379/0`` and
    ``postgresql://ingest:secret@db/ingest`` becomes ``postgresql://ingest:***@db/ingest``.
    A ``password=`` query or key/value parameter is hidden too, and so is the user info of a
    mistyped URL (``postgresql:/user:secret@db``). Never raises.
    """
    text = str(url)
    found = _USER_INFO.match(text)
    if found is not None:
        user, colon, _password = found.group(2).partition(":")
        shown = f"{user}:***" if colon and user else "***"
        text = f"{found.group(1)}{shown}@{text[found.end() :]}"
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", text)
