"""Shared plumbing of the resources: build a request, send it, structure the answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .._checks import check_int, check_text
from .._config import RequestOptions, resolve_options
from .._converter import dumps, structure
from .._core._paging import CursorPaging, OffsetPaging, Paging, check_page_size
from .._core._request import PROBLEM_JSON, Request, build_url, with_query
from .._errors import RequestValidationError, ResponseValidationError
from .._pagination import AsyncPaginator, Page
from .._session import Dispatcher

__all__ = (
    "PageReader",
    "Resource",
    "check_filter",
    "check_id",
    "check_ids",
    "check_statuses",
    "ica_paging",
)

#: Turns one decoded list answer into a :class:`Page` (the request is for error context).
PageReader = Callable[[Any, Request], Page[Any]]

T = TypeVar("T")
_ICA_VERSIONED = "application/vnd.illumina."


def check_id(name: str, value: object) -> str:
    """A path id must be a non-empty string without surrounding blanks, and not ``.`` or
    ``..`` (a path segment of its own, which a server or proxy resolves to another endpoint:
    ``/api/projects/../dataTransfers/t``)."""
    text = _check_text_id(name, value)
    if text in (".", ".."):
        raise RequestValidationError(f"must be an id, got {text!r}", field=name)
    return text


def _check_text_id(name: str, value: object) -> str:
    """A non-empty string without surrounding blanks (an id in a body or a query)."""
    if not isinstance(value, str) or not value or value.strip() != value:
        raise RequestValidationError(f"must be a non-empty string, got {value!r}", field=name)
    return check_text(name, value)


def check_ids(name: str, values: Iterable[str], *, maximum: int | None = None) -> list[str]:
    """A non-empty list of non-empty string ids, at most ``maximum`` long."""
    if isinstance(values, str | bytes):
        raise RequestValidationError("must be a list of ids, not a single string", field=name)
    if not isinstance(values, Iterable):
        raise RequestValidationError(
            f"must be a list of ids, got {type(values).__name__}", field=name
        )
    out = list(values)
    if not out:
        raise RequestValidationError("must not be empty", field=name)
    for i, value in enumerate(out):
        _check_text_id(f"{name}[{i}]", value)
    if maximum is not None and len(out) > maximum:
        raise RequestValidationError(
            f"has {len(out)} entries; the server accepts at most {maximum}", field=name
        )
    return out


def check_filter(name: str, value: object) -> str | None:
    """An optional filter value: ``None`` or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise RequestValidationError(f"must be a non-empty string, got {value!r}", field=name)
    if value in (".", ".."):
        # A path segment of its own: a server or proxy would resolve it to another endpoint.
        raise RequestValidationError(f"must be an id, got {value!r}", field=name)
    return check_text(name, value)


def check_statuses(name: str, value: object) -> list[str]:
    """A status filter: one status or a list of them (``None`` for all); a ``None`` inside
    the list would be sent as the status ``"None"``."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_check_text_id(name, value)]
    if isinstance(value, bytes) or not isinstance(value, Iterable):
        raise RequestValidationError(
            f"must be a status or a list of statuses, got {type(value).__name__}", field=name
        )
    return [_check_text_id(f"{name}[{i}]", status) for i, status in enumerate(value)]


def ica_paging(
    page_size: int, filters: Sequence[tuple[str, str]], *, offset: int | None = None
) -> Callable[[], Paging]:
    """ICA paging for a list call: cursor paging, or offset paging from ``offset`` when given."""
    check_page_size(page_size)
    if offset is not None:
        check_int("page_offset", offset, minimum=0)

    def make() -> Paging:
        if offset is not None:
            return OffsetPaging(page_size, offset=offset, extra=filters)
        return CursorPaging(page_size, extra=filters)

    return make


def _encode(body: object, name: str) -> bytes:
    """``body`` as JSON; a model holding a value of the wrong type (attrs does not check)
    is the caller's argument ``name`` refused, not an error from deep in the converter."""
    try:
        return dumps(body)
    except (TypeError, ValueError, AttributeError) as exc:
        raise RequestValidationError(
            f"cannot be sent as JSON, a field holds a value of the wrong type "
            f"({type(exc).__name__}: {exc})",
            field=name,
        ) from exc


class Resource:
    """Base of every resource: holds the client's dispatcher."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

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
        idempotent: bool = False,
        operation: str = "",
        body_name: str = "body",
    ) -> Request:
        url = with_query(build_url(self._dispatcher.config.base_url, template, **path), params)
        headers: dict[str, str] = {}
        if accept is not None:
            headers["Accept"] = f"{accept}, {PROBLEM_JSON}" if accept != PROBLEM_JSON else accept
        data: bytes | None = None
        if body is not None:
            data = _encode(body, body_name)
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
            declared_idempotent=idempotent,
            operation=operation,
        )

    def _paginate(
        self,
        template: str,
        *,
        path: Mapping[str, str],
        accept: str,
        operation: str,
        paging: Callable[[], Paging],
        options: RequestOptions,
        page_model: type[Any] | None = None,
        read_page: PageReader | None = None,
    ) -> AsyncPaginator[Any]:
        """The one paginator factory: GET ``template`` page by page.

        Each page is read by ``read_page``, or structured into ``page_model``: an ICA paged
        list with ``items``, ``nextPageToken``, ``remainingRecords`` and ``totalItemCount``.
        """
        # Checked now, when the caller makes the paginator, not at its first page.
        resolve_options(self._dispatcher.config, options)
        if read_page is None:
            if page_model is None:
                raise TypeError("_paginate needs page_model or read_page")
            read_page = self._paged_list_reader(page_model)

        async def fetch(params: list[tuple[str, str]]) -> Page[Any]:
            request = self._request(
                "GET", template, path=path, params=params, accept=accept, operation=operation
            )
            return read_page(await self._dispatcher.send_json(request, options), request)

        return AsyncPaginator(fetch, paging)

    def _paged_list_reader(self, page_model: type[Any]) -> PageReader:
        def read(data: Any, request: Request) -> Page[Any]:
            page = self._structure(data, page_model, request)
            return Page(
                page.items, page.next_page_token, page.remaining_records, page.total_item_count
            )

        return read

    async def _call(self, request: Request, cls: type[T], options: RequestOptions) -> T:
        data = await self._dispatcher.send_json(request, options)
        return self._structure(data, cls, request)

    @staticmethod
    def _structure(data: Any, cls: type[T], request: Request) -> T:
        try:
            return structure(data, cls)
        except ResponseValidationError as exc:
            exc.method, exc.url = request.method, request.url
            raise
