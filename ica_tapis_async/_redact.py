"""Hide credentials in service URLs before they reach logs, reprs or error messages."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ("redact_url",)


def redact_url(url: str) -> str:
    """``url`` with any password (and a user in a ``//user:password@`` pair) shown as ``***``.

    ``redis://:secret@host:6379/0`` becomes ``redis://***@host:6379/0`` and
    ``postgresql://ingest:secret@db/ingest`` becomes ``postgresql://ingest:***@db/ingest``.
    A ``password=`` query or key/value parameter is hidden too. Never raises: text that is not
    a URL comes back with everything that could be a password replaced.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<unparsable URL>"
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        if colon and user:
            netloc = f"{user}:***@{host}"
        elif colon or not user:
            netloc = f"***@{host}"
    query = "&".join(
        f"{key}=***" if key.lower() in {"password", "passfile", "sslpassword"} else pair
        for pair in parts.query.split("&")
        if pair
        for key in [pair.partition("=")[0]]
    )
    if not parts.scheme and "password" in url.lower():
        # A key/value DSN ("host=db password=secret"): hide each password value.
        return " ".join(
            f"{w.partition('=')[0]}=***" if w.lower().startswith("password=") else w
            for w in url.split()
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
