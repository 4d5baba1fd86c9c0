"""Building requests: URL, query, headers, body, and the Idempotency-Key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, urlencode, urlsplit

import attrs

from .._errors import RequestValidationError

__all__ = (
    "ICA_V3",
    "ICA_V4",
    "PROBLEM_JSON",
    "SENSITIVE_HEADERS",
    "Request",
    "build_url",
    "make_idempotency_key",
    "merge_headers",
    "query",
    "same_origin",
)

ICA_V3 = "application/vnd.illumina.v3+json"
ICA_V4 = "application/vnd.illumina.v4+json"
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"

#: Headers that carry credentials: never sent to another origin, never logged.
SENSITIVE_HEADERS = frozenset({"x-api-key", "authorization", "x-tapis-token", "cookie"})

MAX_IDEMPOTENCY_KEY = 255


@attrs.define(frozen=True)
class Request:
    """One HTTP request, ready to send (credentials are added by the session per attempt).

    Attributes:
        declared_idempotent: the caller (or the operation) declared that sending it twice does
            no harm, e.g. a POST made with ``retry_safe=True``.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    idempotency_key: str | None = None
    declared_idempotent: bool = False
    operation: str = ""

    @property
    def idempotent(self) -> bool:
        """Whether a failed attempt may be sent again: a GET, keyed, or declared idempotent."""
        return self.method == "GET" or self.idempotency_key is not None or self.declared_idempotent


def _path_segment(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise RequestValidationError("must be a non-empty string", field=name)
    return quote(value, safe="")


def build_url(base_url: str, template: str, **path_params: str) -> str:
    """Join ``base_url`` and ``template``, quoting each path parameter as one segment.

    The template's own characters are kept as written, so ``…/{id}:abort`` reaches the server
    with its colon.

    >>> build_url("https://h/ica/rest", "/api/x/{id}:abort", id="a b")
    'https://h/ica/rest/api/x/a%20b:abort'
    """
    quoted = {k: _path_segment(k, v) for k, v in path_params.items()}
    return base_url.rstrip("/") + template.format(**quoted)


def query(**params: str | int | bool | Sequence[str] | None) -> list[tuple[str, str]]:
    """Query pairs without the ``None`` values; sequences become repeated parameters."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        elif isinstance(value, str | int):
            pairs.append((key, str(value)))
        else:
            pairs.extend((key, str(v)) for v in value)
    return pairs


def with_query(url: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``url`` with the query ``pairs`` appended."""
    encoded = urlencode(list(pairs))
    return f"{url}?{encoded}" if encoded else url


def merge_headers(*layers: Mapping[str, str] | None) -> dict[str, str]:
    """Merge header mappings, later layers winning, case-insensitively."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            merged[key.lower()] = (key, value)
    return dict(merged.values())


def make_idempotency_key(key: str | None = None) -> str:
    """Validate a caller's key, or make a fresh one (once per logical call, before any attempt)."""
    if key is None:
        return f"ita-{uuid.uuid4()}"
    if not isinstance(key, str) or not key:
        raise RequestValidationError("must be a non-empty string", field="idempotency_key")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise RequestValidationError(
            f"must be at most {MAX_IDEMPOTENCY_KEY} characters, got {len(key)}",
            field="idempotency_key",
        )
    if not key.isascii() or not key.isprintable():
        raise RequestValidationError(
            "must be printable ASCII (it travels in an HTTP header)", field="idempotency_key"
        )
    return key


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port."""
    sa, sb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    return (
        sa.scheme.lower() == sb.scheme.lower()
        and (sa.hostname or "").lower() == (sb.hostname or "").lower()
        # `port or default` would take a written port 0 for the default port.
        and (default.get(sa.scheme.lower()) if sa.port is None else sa.port)
        == (default.get(sb.scheme.lower()) if sb.port is None else sb.port)
    )


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` fit for logs: credential values replaced."""
    return {k: ("<redacted>" if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}
