"""Argument checks shared by the configuration, the credentials and the resources.

Each check raises :class:`RequestValidationError` naming the argument the caller wrote, so a
bad setting is refused where it is given instead of failing later inside aiohttp (or never:
a timeout of 0 means "no limit" to aiohttp).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from ._errors import RequestValidationError
from ._redact import redact_url

__all__ = (
    "check_base_url",
    "check_bool",
    "check_header_value",
    "check_headers",
    "check_int",
    "check_seconds",
    "check_text",
    "has_user_info",
)

# What HTTP forbids in a field (RFC 9110 §5.5): CR, LF, NUL and the other controls but tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A field name is a token (RFC 9110 §5.6.2).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# The message framing is the client's, made from the body: a caller's value would make the
# server wait for bytes that never come, or read the next request as part of this one.
_FRAMING = frozenset({"content-length", "transfer-encoding"})


def check_bool(field: str, value: object) -> bool:
    """``value`` if it is a bool (a truthy string such as ``"no"`` is refused, not obeyed)."""
    if not isinstance(value, bool):
        raise RequestValidationError(f"must be True or False, got {_shown(value)}", field=field)
    return value


def check_int(field: str, value: object, *, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestValidationError(f"must be an int, got {_shown(value)}", field=field)
    if value < minimum:
        raise RequestValidationError(f"must be >= {minimum}, got {value!r}", field=field)
    return value


def check_seconds(
    field: str, value: object, *, positive: bool = False, optional: bool = False
) -> float | None:
    """A finite number of seconds (``>= 0``, or ``> 0`` when ``positive``); ``None`` if
    ``optional``. NaN and infinity are refused: NaN compares false with everything, so it
    would silently disable the check it was meant for, and infinity overflows deadlines."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kinds = "a number of seconds or None" if optional else "a number of seconds"
        raise RequestValidationError(f"must be {kinds}, got {_shown(value)}", field=field)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        hint = " (None means no limit)" if optional else ""
        raise RequestValidationError(f"must be finite, got {_shown(value)}{hint}", field=field)
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        hint = " (None means no limit)" if optional and positive else ""
        raise RequestValidationError(f"must be {bound}, got {value!r}{hint}", field=field)
    return float(value)


def check_text(field: str, value: str) -> str:
    """``value`` if it can be encoded as UTF-8 (a lone surrogate, e.g. from a file read with
    ``errors="surrogateescape"``, cannot be put into a URL or a JSON body)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestValidationError(
            "holds a character that is not valid Unicode text (a lone surrogate)", field=field
        ) from None
    return value


def check_header_value(field: str, value: object, *, secret: bool = False) -> str:
    """A string that can travel in an HTTP header: no CR, LF, NUL or other control character.

    A secret's value is never echoed; its usual flaw (a trailing newline left by
    ``open(...).read()``) is named instead.
    """
    if not isinstance(value, str):
        raise RequestValidationError(f"must be a string, got {type(value).__name__}", field=field)
    found = _CONTROL.search(value)
    if found is not None:
        where = "ends with" if found.start() == len(value.rstrip()) else "contains"
        what = "a line break" if found.group() in "\r\n" else "a control character"
        shown = "" if secret else f": {value!r}"
        raise RequestValidationError(
            f"{where} {what}, which cannot be sent in an HTTP header{shown}"
            + (" (strip what was read from a file)" if where == "ends with" else ""),
            field=field,
        )
    return check_text(field, value)


def check_headers(field: str, headers: object) -> tuple[tuple[str, str], ...]:
    """A mapping of header names to values, as pairs; names must be HTTP tokens."""
    if not isinstance(headers, Mapping):
        raise RequestValidationError(
            f"must be a mapping of header names to values, got {type(headers).__name__}",
            field=field,
        )
    pairs: list[tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
            raise RequestValidationError(f"{name!r} is not a valid header name", field=field)
        if name.lower() in _FRAMING:
            raise RequestValidationError(
                f"{name} is set by the client from the body, not by the caller", field=field
            )
        # A header of the caller's may hold a credential of its own: never echo the value.
        pairs.append((name, check_header_value(f"{field}[{name!r}]", value, secret=True)))
    return tuple(pairs)


def has_user_info(url: str) -> bool:
    """Whether ``url`` carries ``user[:password]@`` before its host."""
    return "@" in urlsplit(url).netloc


def check_base_url(url: object) -> str:
    """An http(s) URL with a host, a valid port, and no query or fragment (paths are appended
    to it); returned without a trailing slash. The error text never shows a password."""
    if not isinstance(url, str):
        raise RequestValidationError(
            f"must be an http(s) URL string, got {type(url).__name__}", field="base_url"
        )
    shown = repr(redact_url(url))
    if not url.startswith(("http://", "https://")):
        raise RequestValidationError(f"must be an http(s) URL, got {shown}", field="base_url")
    if _CONTROL.search(url) or any(c.isspace() for c in url):
        raise RequestValidationError(
            f"must not contain blanks or control characters, got {shown}", field="base_url"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check (out of range, not a number)
    except ValueError as exc:
        raise RequestValidationError(f"{exc} in {shown}", field="base_url") from None
    if not parts.hostname:
        raise RequestValidationError(f"has no host: {shown}", field="base_url")
    try:
        # What aiohttp does with the URL on every request: yarl refuses a backslash in the
        # authority, and the host is IDNA-encoded (an empty or over-long label fails there).
        URL(url)
        if not _is_ip_literal(parts.hostname):
            parts.hostname.encode("idna")
    except ValueError as exc:  # UnicodeError included
        raise RequestValidationError(f"{exc} in {shown}", field="base_url") from None
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise RequestValidationError(
            f"must not have a query or fragment (paths are appended to it): {shown}",
            field="base_url",
        )
    return url.rstrip("/")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    """A value for an error message: its repr if short, else its type."""
    text = repr(value)
    return text if len(text) <= 40 else type(value).__name__
