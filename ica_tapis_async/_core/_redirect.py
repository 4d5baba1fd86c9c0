"""Redirect decisions: where a 3xx leads, and which headers and body may follow it."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin

import attrs

from ._request import SENSITIVE_HEADERS, same_origin

__all__ = ("REDIRECT_STATUSES", "Hop", "next_hop")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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
    """The request a redirect answer leads to, or ``None`` when the answer is final.

    Credentials never follow a redirect to another origin; a 303 (and a 301/302 to a
    non-GET) becomes a GET without a body, as browsers and aiohttp do.
    """
    if status not in REDIRECT_STATUSES:
        return None
    location = next((v for k, v in response_headers.items() if k.lower() == "location"), None)
    if not location:
        return None
    target = urljoin(url, location)
    cross = not same_origin(url, target)
    out = dict(headers)
    if cross:
        out = {k: v for k, v in out.items() if k.lower() not in SENSITIVE_HEADERS}
    if status == 303 or (status in (301, 302) and method != "GET"):
        method, body = "GET", None
        out = {k: v for k, v in out.items() if k.lower() != "content-type"}
    return Hop(method, target, out, body, cross)
