"""Redirect decisions: where a 3xx leads, and which headers and body may follow it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urljoin, urlsplit

import attrs

from .._errors import APIConnectionError
from .._redact import redact_url
from ._request import SENSITIVE_HEADERS, same_origin

__all__ = ("REDIRECT_STATUSES", "Hop", "next_hop")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

#: Characters a redirect target keeps as written: URL delimiters and ``%`` (already-encoded
#: octets stay as they are). Everything else (spaces, non-ASCII, quotes) is percent-encoded.
_KEEP = "!#$%&'()*+,/:;=?@[]~"
_AUTHORITY = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")
_SHOWN = 120  # how much of a hostile Location an error message repeats


@attrs.define(frozen=True)
class Hop:
    """The request to send after a redirect; ``cross_origin`` when credentials were dropped."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    cross_origin: bool = False


def next_hop(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    status: int,
    response_headers: Mapping[str, str],
) -> Hop | None:
    """The request a redirect answer leads to, or ``None`` when the answer cannot be followed
    (not a redirect status, or no ``Location``): the caller treats it as an error answer.

    Credentials never follow a redirect to another origin; a 303 (and a 301/302 to a
    non-GET) becomes a GET without a body, as browsers and aiohttp do. The target is
    percent-encoded before it is sent.

    Raises:
        APIConnectionError: the ``Location`` is no URL that can be followed (a bad port, a
            broken IPv6 host, a backslash or control character, another scheme than http(s)).
    """
    if status not in REDIRECT_STATUSES:
        return None
    location = next((v for k, v in response_headers.items() if k.lower() == "location"), None)
    if not location:
        return None
    target = _target(method, url, location)
    cross = not same_origin(url, target)
    out = dict(headers)
    if cross:
        out = {k: v for k, v in out.items() if k.lower() not in SENSITIVE_HEADERS}
    if status == 303 or (status in (301, 302) and method != "GET"):
        method, body = "GET", None
        out = {k: v for k, v in out.items() if k.lower() != "content-type"}
    return Hop(method, target, out, body, cross)


def _target(method: str, url: str, location: str) -> str:
    """The absolute, encoded URL ``location`` names, or :class:`APIConnectionError`."""

    def refuse(why: str) -> APIConnectionError:
        shown = redact_url(location)  # a Location may carry user info: never in error text
        shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"
        return APIConnectionError(
            f"{method} {url}: cannot follow the redirect to {shown!r}: {why}",
            method=method,
            url=url,
        )

    # A backslash is a slash to browsers and a literal to servers, so the same Location names
    # two different places; control characters (which urlsplit silently drops) likewise.
    if "\\" in location:
        raise refuse("it contains a backslash")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
        raise refuse("it contains a control character")
    location = location.strip()
    try:
        # urljoin lends an empty authority ("https:///x") the base's host: refuse it instead.
        if _AUTHORITY.match(location) and not urlsplit(location).hostname:
            raise refuse("it names no host")
        target = quote(_ascii_host(urljoin(url, location)), safe=_KEEP)
        parts = urlsplit(target)
        if parts.port == 0:  # parsing the port checks its range; 0 is no port to connect to
            raise refuse("port 0")
    except ValueError as exc:  # UnicodeError (a host IDNA cannot spell) is a ValueError too
        raise refuse(str(exc) or type(exc).__name__) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse("not an http(s) URL")
    if not parts.hostname:
        raise refuse("it names no host")
    return target


def _ascii_host(url: str) -> str:
    """``url`` with an international host name in its IDNA form (``xn--…``), not %-escaped."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or host.isascii():
        return url
    user, at, _ = parts.netloc.rpartition("@")
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{user}{at}{host.encode('idna').decode('ascii')}{port}"
    return parts._replace(netloc=netloc).geturl()
