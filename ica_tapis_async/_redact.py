"""Hide credentials in service URLs before they reach logs, reprs or error messages."""

from __future__ import annotations

import re
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = ("ambiguous_user_info", "redact_url", "scrub_chain")

# User info is read the way libpq reads it: from after the scheme (however many slashes were
# typed) to the first "@" before any "/", so a password may hold "#", "?" or ":".
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)([^@/]*)@")
# The engines' URLs (PostgreSQL, Redis): their user info is hidden whole, up to the last "@".
_ENGINE = re.compile(r"^\s*(postgres(?:ql)?|rediss?|unix)\s*:/*", re.IGNORECASE)
# A password given as a parameter: in a query (?password=) or a key/value DSN (password=...).
_PASSWORD_PARAM = re.compile(
    r"(^|[?&;\s])((?:ssl)?password|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|[^&;\s]*)", re.IGNORECASE
)
# A "%" not followed by two hex digits: libpq refuses such a URL (redis-py keeps it as it is).
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
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
        if "@" in path.partition("?")[0]:
            # With or without an "@" before the "/": the host libpq would look up (and name in
            # its error) is a piece of the password.
            return f"the user info holds a '/': {_HOW}"
        if _BARE_PERCENT.search(authority.rpartition("@")[0]):
            # libpq refuses the URL, and its error would say only that it is invalid.
            return f"the user info holds a '%' that starts no %XX escape: {_HOW}"
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    after = rest[len(authority) :]
    if engine.group(1).lower() == "unix":
        # No host to look up, and the socket path may hold an "@".
        stray = "@" not in authority and "@" in after
    else:
        stray = _stray_at(after)
    if stray:
        # Also with an "@" before the "/": the host redis-py would look up (and name in its
        # error) is then a piece of the password.
        return f"the user info holds '/', '?' or '#': {_HOW}"
    return None


def _stray_at(after: str) -> bool:
    """Whether the part of a Redis URL after its host part holds an "@" other than in a client
    name (``?client_name=me@host``): ``?b=c@host`` may as well be a password's tail."""
    path, _q, query = after.partition("?")
    query, _hash, fragment = query.partition("#")
    if "@" in path or "@" in fragment:
        return True
    return any(
        "@" in item and item.partition("=")[0].strip().lower() != "client_name"
        for item in re.split("[&;]", query)
    )


# Request headers that may stay visible on an exception aiohttp chained to ours; every other
# value (credentials, and a caller's own headers, which may hold one) is replaced.
_HARMLESS_HEADERS = frozenset(
    {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "content-type",
        "content-length",
        "idempotency-key",
    }
)


def scrub_chain(error: BaseException) -> None:
    """Remove credentials from the exceptions chained to ``error`` (its ``__cause__`` and
    ``__context__``, and theirs).

    aiohttp's ``ClientResponseError`` keeps the request's headers (``X-API-Key``,
    ``Authorization``) and URL in ``request_info``, where ``repr()``, ``vars()`` and
    error reporters that walk the chain would show them. The exceptions are kept (their type
    and message help debugging); only those values are replaced.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        kept = _scrub_request_info(exc)
        history = getattr(exc, "history", None)
        if history:
            # The responses of earlier redirects, each with a request_info of its own.
            exc.history = ()  # type: ignore[attr-defined]
            kept[id(history)] = ()
        if kept:
            # aiohttp keeps the same objects in ``args`` too (``(request_info, history)``),
            # which BaseException's repr, pickling and error reporters read.
            exc.args = tuple(kept.get(id(arg), arg) for arg in exc.args)
        pending.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)


def _scrub_request_info(exc: BaseException) -> dict[int, Any]:
    """Replace ``exc.request_info`` by a scrubbed copy; return ``{id(old): new}``."""
    info = getattr(exc, "request_info", None)
    headers = getattr(info, "headers", None)
    if info is None or headers is None or not hasattr(info, "_replace"):
        return {}
    kept = CIMultiDict(
        (name, value if name.lower() in _HARMLESS_HEADERS else "<redacted>")
        for name, value in headers.items()
    )
    changes: dict[str, Any] = {"headers": CIMultiDictProxy(kept)}
    for field in ("url", "real_url"):
        url = getattr(info, field, None)
        if isinstance(url, URL) and url.password is not None:
            changes[field] = url.with_password("***")
    try:
        clean = info._replace(**changes)
    except (AttributeError, TypeError, ValueError):
        # Not aiohttp's RequestInfo after all: drop it rather than keep a credential.
        clean = None
    exc.request_info = clean  # type: ignore[attr-defined]
    return {id(info): clean}
