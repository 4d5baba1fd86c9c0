"""``tapis.transfers``: Tapis Files transfer tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from ..._checks import check_bool
from ..._config import RequestOptions
from ..._core._paging import OffsetPaging, check_page_size
from ..._core._request import JSON, Request, query
from ..._errors import RequestValidationError, ResponseValidationError
from ..._pagination import AsyncPaginator, Page
from ..._validation import kind
from ...models import ReqTransfer, ReqTransferElement, TransferTask
from .._base import Resource, check_filter, check_id

__all__ = ("MAX_TAG_LENGTH", "Transfers")

_PATH = "/v3/files/transfers"
#: The server stores tags in a 265-character column; longer ones fail with a 500.
MAX_TAG_LENGTH = 265
#: ``limit`` of the recent-transfers list may not exceed this.
MAX_LIST_LIMIT = 1000


class Transfers(Resource):
    """Create, follow and cancel Tapis transfer tasks.

    Example::

        task = await tapis.transfers.create(
            [ReqTransferElement("tapis://src/a.bam", "tapis://dst/a.bam")], tag="run-7")
        task = await tapis.transfers.get(task.uuid, include_summary=True)
    """

    async def _envelope(self, request: Request, options: RequestOptions) -> dict[str, Any]:
        return _envelope(await self._dispatcher.send_json(request, options), request)

    async def _result(self, request: Request, options: RequestOptions) -> Any:
        return (await self._envelope(request, options)).get("result")

    async def _task(self, request: Request, options: RequestOptions) -> TransferTask:
        return self._structure(await self._result(request, options), TransferTask, request)

    async def create(
        self,
        elements: Sequence[ReqTransferElement],
        *,
        tag: str | None = None,
        retry_safe: bool = False,
        **options: Unpack[RequestOptions],
    ) -> TransferTask:
        """Create a transfer task with one element per source/destination pair.

        The answer carries the new task (status ACCEPTED) without its parents; follow it with
        :meth:`get` or :meth:`details`. Tapis has no idempotency key, so a lost answer is not
        retried unless ``retry_safe=True``.

        Raises:
            RequestValidationError: no elements, or a tag over 265 characters.
        """
        if isinstance(elements, ReqTransferElement) or not isinstance(elements, Sequence):
            raise RequestValidationError("must be a list of ReqTransferElement", field="elements")
        if not elements:
            raise RequestValidationError("must not be empty", field="elements")
        for i, element in enumerate(elements):
            if not isinstance(element, ReqTransferElement):
                raise RequestValidationError(
                    f"must be a ReqTransferElement, got {type(element).__name__}",
                    field=f"elements[{i}]",
                )
            check_id(f"elements[{i}].source_uri", element.source_uri)
            check_id(f"elements[{i}].destination_uri", element.destination_uri)
        if tag is not None and not isinstance(tag, str):
            raise RequestValidationError(f"must be a string, got {type(tag).__name__}", field="tag")
        if tag is not None and len(tag) > MAX_TAG_LENGTH:
            raise RequestValidationError(
                f"is {len(tag)} characters; at most {MAX_TAG_LENGTH}", field="tag"
            )
        request = self._request(
            "POST",
            _PATH,
            path={},
            accept=JSON,
            content_type=JSON,
            body=ReqTransfer(list(elements), tag=tag),
            idempotent=check_bool("retry_safe", retry_safe),
            body_name="elements",
            operation="createTransferTask",
        )
        return await self._task(request, options)

    async def get(
        self,
        transfer_task_id: str,
        *,
        include_summary: bool = False,
        impersonation_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> TransferTask:
        """Fetch a task; with ``include_summary`` the totals over its files are filled in.

        Raises:
            NotFoundError: no such task.
            PermissionDeniedError: the task belongs to someone else.
        """
        request = self._request(
            "GET",
            _PATH + "/{transferTaskId}",
            path={"transferTaskId": check_id("transfer_task_id", transfer_task_id)},
            params=query(
                includeSummary=True if check_bool("include_summary", include_summary) else None,
                impersonationId=check_filter("impersonation_id", impersonation_id),
            ),
            accept=JSON,
            operation="getTransferTask",
        )
        return await self._task(request, options)

    async def details(
        self,
        transfer_task_id: str,
        *,
        impersonation_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> TransferTask:
        """Fetch a task with its parents (one per element) and their children (one per file)."""
        request = self._request(
            "GET",
            _PATH + "/{transferTaskId}/details",
            path={"transferTaskId": check_id("transfer_task_id", transfer_task_id)},
            params=query(impersonationId=check_filter("impersonation_id", impersonation_id)),
            accept=JSON,
            operation="getTransferTaskDetails",
        )
        return await self._task(request, options)

    async def cancel(self, transfer_task_id: str, **options: Unpack[RequestOptions]) -> str | None:
        """Cancel a task with its parents and children; returns the server's message.

        Cancelling twice has the same effect as once, so lost answers are retried.
        The server also marks an already finished task CANCELLED.
        """
        request = self._request(
            "DELETE",
            _PATH + "/{transferTaskId}",
            path={"transferTaskId": check_id("transfer_task_id", transfer_task_id)},
            accept=JSON,
            idempotent=True,
            operation="cancelTransferTask",
        )
        # An HTML page (a proxy's) or any other body that is no envelope is no confirmation.
        message = (await self._envelope(request, options)).get("message")
        return str(message) if message is not None else None

    def list_recent(
        self, *, page_size: int = MAX_LIST_LIMIT, **options: Unpack[RequestOptions]
    ) -> AsyncPaginator[TransferTask]:
        """Iterate over the caller's transfer tasks, newest first (``limit``/``offset`` paging).

        Args:
            page_size: tasks per page (1-1000).
        """
        check_page_size(page_size, maximum=MAX_LIST_LIMIT)

        def read_page(data: Any, request: Request) -> Page[TransferTask]:
            result = _envelope(data, request).get("result")
            # Only a missing result is an empty page: {} or "" is the wrong shape, not nothing.
            tasks = [] if result is None else result
            return Page(self._structure(tasks, list[TransferTask], request))

        paginator: AsyncPaginator[TransferTask] = self._paginate(
            _PATH,
            path={},
            accept=JSON,
            operation="getRecentTransferTasks",
            paging=lambda: OffsetPaging(page_size, offset_param="offset", size_param="limit"),
            options=options,
            read_page=read_page,
        )
        return paginator


def _envelope(data: Any, request: Request) -> dict[str, Any]:
    """The Tapis ``{status, message, result}`` envelope of a success answer, or an error."""
    if not isinstance(data, dict):
        raise ResponseValidationError(
            f"expected an object, got {kind(data)}",
            model="TapisEnvelope",
            method=request.method,
            url=request.url,
        )
    return data
