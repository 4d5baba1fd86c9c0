"""Hide credentials in service URLs before they reach logs, reprs or error messages."""

from __future__ import annotations

import re

__all__ = ("ambiguous_user_info", "redact_url")

# User info is read the way libpq reads it: from after the scheme (however many slashes were
# typed) to the first "@" before any "/", so a password may hold "#", "?" or ":".
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)([^@/]*)@")
# The engines' URLs (PostgreSQL, Redis): their user info is hidden whole, up to the last "@".
_ENGINE = re.compile(r"^\s*(postgres(?:ql)?|rediss?|unix)\s*:/*", re.IGNORECASE)
# A password given as a parameter: in a query (?password=) or a key/value DSN (password=...).
_PASSWORD_PARAM = re.compile(
    r"(^|[?&;\s])((?:ssl)?password|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|[^&;\s]*)", re.IGNORECASE
)
_HOW = "percent-encode it (%40 for @, %2F for /, %3F for ?, %23 for #, %25 for %)"


def redact_url(url: str) -> str:
    """``url`` with its credentials shown as ``***``.

    A PostgreSQL or Redis URL loses its whole user info, up to the last ``@``, whatever
    characters the password holds: ``postgresql://ingest:p@ss/w#rd@db/ingest`` becomes
    ``postgresql://***@db/ingest`` (an ``@`` in a query hides a little more than needed,
    never less). In any other URL a password shows as ``***`` (``https://u:***@host``); a
    ``password=`` query or key/value parameter is hidden too, and so is the user info of a
    mistyped URL (``postgresql:/user:secret@db``). Never raises.
    """
    # Parameters first: an "@" in a password=... value is not where user info ends.
    text = _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", str(url))
    engine = _ENGINE.match(text)
    at = text.rfind("@")
    if engine is not None:
        if at >= engine.end():
            text = f"{text[: engine.end()]}***{text[at:]}"
    else:
        found = _USER_INFO.match(text)
        if found is not None:
            user, colon, _password = found.group(2).partition(":")
            shown = f"{user}:***" if colon and user else "***"
            text = f"{found.group(1)}{shown}@{text[found.end() :]}"
    return text


def ambiguous_user_info(url: str) -> str | None:
    """Why the engine would read ``url``'s user info otherwise than it was meant, or ``None``.

    A password is meant to run to the URL's last ``@``. libpq (PostgreSQL) ends the user info
    at the first ``@`` or ``/``; redis-py (Python's URL rules) ends the host part at the first
    ``/``, ``?`` or ``#``. A password holding one of those unencoded would connect somewhere
    else, or as someone else, and the server's error could quote part of it. The reason names
    no part of the URL.
    """
    # A password=... parameter is read by its own rules, wherever it stands.
    text = _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=", str(url))
    engine = _ENGINE.match(text)
    if engine is None:
        return None
    rest = text[engine.end() :]
    if engine.group(1).lower().startswith("postgres"):
        # libpq: user info to the first "@" before any "/"; host and database after it.
        authority, _slash, path = rest.partition("/")
        if authority.count("@") > 1:
            return f"the user info holds more than one '@': {_HOW}"
        if "@" not in authority and "@" in path.partition("?")[0]:
            return f"the user info holds a '/': {_HOW}"
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" not in authority and "@" in rest:
        return f"the user info holds '/', '?' or '#': {_HOW}"
    return None
