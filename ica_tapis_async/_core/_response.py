"""Interpreting answers: decode bodies, turn error answers into the right exception."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from .._errors import APIStatusError, make_status_error

__all__ = ("Api", "decode_body", "error_from_response", "is_json_content")

Api = Literal["ica", "tapis"]

_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_TEXT = 300


def is_json_content(content_type: str) -> bool:
    """``application/json``, ``application/problem+json``, ``application/vnd.*+json``…"""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def decode_body(content_type: str, body: bytes) -> Any:
    """JSON for JSON media types (or a body that parses as JSON), text otherwise, None if empty.

    Raises:
        ValueError: a JSON media type whose body is not JSON.
    """
    if not body:
        return None
    if is_json_content(content_type):
        return orjson.loads(body)
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return text
    return text


def _short_text(text: str) -> str:
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    return _clip(_TAG.sub(" ", text))


def _clip(text: str) -> str:
    """One line of at most ``_MAX_TEXT`` characters: a server's text goes into our messages."""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _ica_message(body: Any) -> str:
    """The message of an ICA error body (``title - detail - parameters``)."""
    if isinstance(body, dict):
        title = body.get("title")
        detail = body.get("detail")
        parts = [str(p) for p in (title, detail) if p]
        params = body.get("parameters")
        if isinstance(params, dict) and params:
            parts.append(", ".join(f"{k}: {v}" for k, v in params.items()))
        return " - ".join(parts)
    return ""


def _tapis_message(body: Any) -> str:
    # The envelope's "status" is "error" or a reason phrase, never the HTTP code: use "message".
    if isinstance(body, dict):
        message = body.get("message")
        return str(message) if message else ""
    return ""


def error_from_response(
    api: Api,
    *,
    status: int,
    reason: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Any,
    problem: Any = None,
    idempotency_key: str | None = None,
) -> APIStatusError:
    """Build the typed exception for an error answer from ``api``.

    ``problem`` is the body already structured into a ``Problem`` model by the caller (the
    core stays free of models), or ``None``.
    """
    # A Problem's detail or a Tapis message is the server's text too: cut like a text body.
    message = _clip(_ica_message(body) if api == "ica" else _tapis_message(body))
    if not message and isinstance(body, str):
        message = _short_text(body)
    if not message:
        message = reason or "error"
    text = (
        f"{status} {reason}: {message}" if reason and message != reason else f"{status} {message}"
    )
    safe_headers = {k: v for k, v in headers.items() if k.lower() != "set-cookie"}
    return make_status_error(
        f"{method} {url} -> {text}",
        status=status,
        method=method,
        url=url,
        headers=safe_headers,
        body=body,
        problem=problem,
        idempotency_key=idempotency_key,
    )
