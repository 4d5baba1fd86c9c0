"""Hide credentials in service URLs before they reach logs, reprs or error messages."""

from __future__ import annotations

import re
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = ("redact_url", "scrub_chain")

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
