"""Error answers: ICA ``application/problem+json`` Problems and Tapis envelopes.

Handlers raise :class:`ProblemError` (ICA) or :class:`TapisError` (Tapis); the request pipeline
in ``_app.py`` turns them into responses with the shapes the real services send.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from ._clock import problem_time

__all__ = (
    "PROBLEM_JSON",
    "ProblemError",
    "TapisError",
    "problem_response",
    "tapis_envelope",
    "tapis_error_response",
)

PROBLEM_JSON = "application/problem+json"
TAPIS_BUILD = "2024-09-23T10:02:31Z"
TAPIS_COMMIT = "21a4c4e1"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """An ICA error answer.

    Args:
        status: HTTP status.
        detail: human-readable explanation of this occurrence.
        title: short summary; defaults to the reason phrase (the observed ICA_API_004 is passed
            explicitly where the real service uses it).
        parameters: the offending request fields, e.g. ``{"items[3].dataId": "must not be blank"}``.
        headers: extra response headers (Retry-After, ...).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _reason(status)
        self.parameters = dict(parameters or {})
        self.headers = dict(headers or {})


def problem_response(
    request: web.Request, error: ProblemError, *, now: float, extra_fields: bool
) -> web.Response:
    """Render ``error`` as the Problem body ICA sends (all required fields present)."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "about:blank",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": str(request.url),
        "parameters": error.parameters,
        "timestamp": problem_time(now),
    }
    if extra_fields:
        body["method"] = request.method  # observed on ica.illumina.com, not in the spec
    return web.Response(
        status=error.status,
        body=orjson.dumps(body),
        content_type=PROBLEM_JSON,
        headers=error.headers,
    )


class TapisError(Exception):
    """A Tapis error answer; 400 uses the validation shape, 401 is bare text, others the
    ApiExceptionMapper shape with the reason phrase in ``status``."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def tapis_envelope(
    status: str, message: str, result: Any, *, version: str, metadata: Any
) -> dict[str, Any]:
    """The ``{status, message, result, version, commit, build, metadata}`` envelope."""
    return {
        "status": status,
        "message": message,
        "result": result,
        "version": version,
        "commit": TAPIS_COMMIT,
        "build": TAPIS_BUILD,
        "metadata": metadata,
    }


def tapis_error_response(error: TapisError, *, version: str) -> web.Response:
    """Render ``error`` the way Tapis' JAX-RS mappers and JWT filter do."""
    if error.status == 401:
        # the JWT filter aborts with a bare text entity, not the JSON envelope
        return web.Response(
            status=401, text=error.message, content_type="text/plain", headers=error.headers
        )
    if error.status == 400:
        body = tapis_envelope("error", error.message, None, version=version, metadata={})
    else:
        body = tapis_envelope(
            _reason(error.status), error.message, None, version=version, metadata=None
        )
    return web.Response(
        status=error.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=error.headers,
    )
