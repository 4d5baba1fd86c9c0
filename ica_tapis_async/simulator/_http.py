"""Small request/response helpers shared by the handlers."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

from ._auth import Identity
from ._problems import ProblemError, TapisError

__all__ = (
    "IDENTITY",
    "MEDIA",
    "identity_of",
    "json_response",
    "media_of",
    "parse_uuid",
    "query_list",
    "read_json",
)

# aiohttp >= 3.14 warns (NotAppKeyWarning) on plain-string request keys; older ones lack RequestKey.
_KEY: Any = getattr(web, "RequestKey", lambda name, _type: name)
IDENTITY: Any = _KEY("ica_simulator.identity", Identity)
MEDIA: Any = _KEY("ica_simulator.media", str)


def identity_of(request: web.Request) -> Identity:
    """The authenticated caller (set by the request pipeline)."""
    identity: Identity = request[IDENTITY]
    return identity


def media_of(request: web.Request) -> str:
    """The negotiated response media type (set by the request pipeline)."""
    media: str = request[MEDIA]
    return media


def json_response(
    body: Any, *, media: str, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer with Content-Type ``media``."""
    # big pages are gzipped in a thread rather than on the event loop
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type=media,
        headers=headers,
        zlib_executor_size=64 * 1024,
    )


async def read_json(request: web.Request, *, tapis: bool = False) -> Any:
    """The decoded JSON body.

    Raises:
        ProblemError / TapisError: 400 for a missing or malformed body.
    """
    raw = await request.read()
    try:
        if not raw.strip():
            raise ValueError("empty body")
        return orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        if tapis:
            raise TapisError(
                400, f"TAPIS_INVALID_JSON The request body is not valid JSON: {exc}"
            ) from None
        raise ProblemError(
            400, f"The request body is not valid JSON: {exc}", parameters={"body": "invalid JSON"}
        ) from None


def parse_uuid(value: str, name: str) -> uuid.UUID:
    """``value`` as a uuid.

    Raises:
        ProblemError: 400 naming ``name``.
    """
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ProblemError(400, f"{name} must be a valid uuid", parameters={name: value}) from None


def query_list(request: web.Request, name: str) -> list[str] | None:
    """An array query parameter: repeated (``status=A&status=B``) or comma-joined."""
    values = request.query.getall(name, [])
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
