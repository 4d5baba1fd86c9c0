"""Shared plumbing of the resources: build a request, send it, structure the answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .._config import RequestOptions
from .._converter import dumps, structure
from .._core._request import PROBLEM_JSON, Request, build_url, with_query
from .._errors import RequestValidationError, ResponseValidationError
from .._session import Session

__all__ = ("Resource", "check_id", "check_ids")

T = TypeVar("T")
_ICA_VERSIONED = "application/vnd.illumina."


def check_id(name: str, value: object) -> str:
    """A path id must be a non-empty string without surrounding blanks."""
    if not isinstance(value, str) or not value or value.strip() != value:
        raise RequestValidationError(f"must be a non-empty string, got {value!r}", field=name)
    return value


def check_ids(name: str, values: Iterable[str], *, maximum: int | None = None) -> list[str]:
    """A non-empty list of non-empty string ids, at most ``maximum`` long."""
    if isinstance(values, str | bytes):
        raise RequestValidationError("must be a list of ids, not a single string", field=name)
    out = list(values)
    if not out:
        raise RequestValidationError("must not be empty", field=name)
    for i, value in enumerate(out):
        check_id(f"{name}[{i}]", value)
    if maximum is not None and len(out) > maximum:
        raise RequestValidationError(
            f"has {len(out)} entries; the server accepts at most {maximum}", field=name
        )
    return out


class Resource:
    """Base of every resource: holds the client's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _request(
        self,
        method: str,
        template: str,
        *,
        path: Mapping[str, str],
        params: Sequence[tuple[str, str]] = (),
        accept: str | None = None,
        content_type: str | None = None,
        body: object = None,
        idempotency_key: str | None = None,
        retry_safe: bool = False,
        operation: str = "",
    ) -> Request:
        url = with_query(build_url(self._session.config.base_url, template, **path), params)
        headers: dict[str, str] = {}
        if accept is not None:
            headers["Accept"] = f"{accept}, {PROBLEM_JSON}" if accept != PROBLEM_JSON else accept
        data: bytes | None = None
        if body is not None:
            data = dumps(body)
            headers["Content-Type"] = content_type or "application/json"
        elif method == "GET" and accept is not None and accept.startswith(_ICA_VERSIONED):
            # ICA answers a v4 GET only when Content-Type names v4 as well (API-NOTES C)
            headers["Content-Type"] = accept
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return Request(
            method=method,
            url=url,
            headers=headers,
            body=data,
            idempotency_key=idempotency_key,
            retry_safe=retry_safe or method == "GET",
            operation=operation,
        )

    async def _call(self, request: Request, cls: type[T], options: RequestOptions) -> T:
        data = await self._session.send_json(request, options)
        return self._structure(data, cls, request)

    @staticmethod
    def _structure(data: Any, cls: type[T], request: Request) -> T:
        try:
            return structure(data, cls)
        except ResponseValidationError as exc:
            exc.method, exc.url = request.method, request.url
            raise
