"""Removing credentials from text before it becomes a log line, a span or a metric label."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = ("REDACTED", "scrub_text", "scrub_url", "server_of")

REDACTED: Final = "***"

# JWTs (ICA bearer tokens, Tapis tokens): three base64url parts, the first a JSON header.
# Only where a token can start (not inside a longer base64url run), which also keeps the scan
# linear on a long run of "eyJeyJ…".
_JWT: Final = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
)
# A URL's user info (journal and Redis URLs carry passwords), up to the last "@" of the URL:
# a password may hold "@", "/", "?" or "#". Anchored on "://" rather than on the scheme: a
# scheme-first pattern backtracks quadratically over long runs of letters; the rest of the
# token is taken whole (no backtracking) and cut at its last "@" in Python.
_URL_REST: Final = re.compile(r"(?<=://)\S*")
# A credential named in a header, a query or a keyword: the value goes, the name stays.
_NAMED: Final = re.compile(
    r"(?P<name>(?:x-api-key|x-tapis-token|api[_-]?key|access[_-]?token|token|password|"
    r"passwd|secret|authorization)\s*[=:]\s*(?:bearer\s+)?['\"]?)(?P<value>[^\s,;&'\"}]+)",
    re.IGNORECASE,
)
_BEARER: Final = re.compile(r"(?P<name>\bbearer\s+)(?P<value>[A-Za-z0-9._~+/=-]+)", re.IGNORECASE)


def scrub_text(text: str) -> str:
    """``text`` with JWTs, URL credentials and named credential values replaced by ``***``.

    API keys have no recognisable shape, so they are caught only where they are named
    (``x-api-key: …``, ``api_key=…``); the library never writes one anywhere else.

    >>> scrub_text("postgresql://ingest:s3cret@db/ingest")
    'postgresql://***@db/ingest'
    """
    if not text:
        return text
    text = _JWT.sub(REDACTED, text)
    text = _URL_REST.sub(_without_user_info, text)
    text = _NAMED.sub(rf"\g<name>{REDACTED}", text)
    return _BEARER.sub(rf"\g<name>{REDACTED}", text)


def _without_user_info(found: re.Match[str]) -> str:
    rest = found.group(0)
    at = rest.rfind("@")
    return rest if at < 0 else f"{REDACTED}{rest[at:]}"


def scrub_url(url: str) -> str:
    """``url`` without user info, query or fragment: what may name a request in telemetry."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub_text(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def server_of(url: str) -> tuple[str, int | None]:
    """The ``server.address`` and ``server.port`` of ``url`` (the port as written, or the
    scheme's default)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "", None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.hostname or "", port
