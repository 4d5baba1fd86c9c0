"""What the three ICA batch resources share: get, get_item, list_items and summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, Unpack

from ..._config import RequestOptions
from ..._core._request import query
from ..._pagination import AsyncPaginator
from .._base import Resource, check_id, check_statuses, ica_paging
from ._summaries import BatchItemSummary, BatchItemSummaryPage

__all__ = ("BatchResource",)

BatchT = TypeVar("BatchT")
ItemT = TypeVar("ItemT")


class BatchResource(Resource, Generic[BatchT, ItemT]):
    """get / get_item / list_items of one batch kind (path and media types per subclass)."""

    _path: ClassVar[str]
    _batch_model: ClassVar[type[Any]]
    _item_model: ClassVar[type[Any]]
    _page_model: ClassVar[type[Any]]
    _get_accept: ClassVar[str]
    _item_accept: ClassVar[str]
    _name: ClassVar[str]

    async def get(
        self, project_id: str, batch_id: str, **options: Unpack[RequestOptions]
    ) -> BatchT:
        """Fetch a batch and its job (status, timing, owner).

        Args:
            project_id: the project the batch was created in.
            batch_id: the batch's id.

        Raises:
            NotFoundError: no such batch in that project.
        """
        request = self._request(
            "GET",
            self._path + "/{batchId}",
            path={
                "projectId": check_id("project_id", project_id),
                "batchId": check_id("batch_id", batch_id),
            },
            accept=self._get_accept,
            operation=f"get{self._name}",
        )
        result: BatchT = await self._call(request, self._batch_model, options)
        return result

    async def get_item(
        self, project_id: str, batch_id: str, item_id: str, **options: Unpack[RequestOptions]
    ) -> ItemT:
        """Fetch one item of a batch. To follow many items, page :meth:`list_items` instead.

        Raises:
            NotFoundError: no such item.
        """
        request = self._request(
            "GET",
            self._path + "/{batchId}/items/{itemId}",
            path={
                "projectId": check_id("project_id", project_id),
                "batchId": check_id("batch_id", batch_id),
                "itemId": check_id("item_id", item_id),
            },
            accept=self._item_accept,
            operation=f"get{self._name}Item",
        )
        result: ItemT = await self._call(request, self._item_model, options)
        return result

    def list_items(
        self,
        project_id: str,
        batch_id: str,
        *,
        status: Sequence[str] | str | None = None,
        page_size: int = 1000,
        page_offset: int | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncPaginator[ItemT]:
        """Iterate over a batch's items, fetching pages on demand.

        Args:
            status: only items in these statuses (sent as a repeated ``status`` parameter).
            page_size: items per page (1-1000).
            page_offset: switch to offset paging, starting at this offset.

        Returns:
            An :class:`AsyncPaginator`: ``async for`` gives items, ``.pages()`` gives pages.
        """
        paginator: AsyncPaginator[ItemT] = self._item_pages(
            project_id, batch_id, status, page_size, page_offset, options
        )
        return paginator

    def list_item_summaries(
        self,
        project_id: str,
        batch_id: str,
        *,
        status: Sequence[str] | str | None = None,
        page_size: int = 1000,
        **options: Unpack[RequestOptions],
    ) -> AsyncPaginator[BatchItemSummary]:
        """Like :meth:`list_items`, but each item is a slim :class:`BatchItemSummary`.

        For following large batches: only the id, the request's data id or user reference,
        the processing status and the created analysis are read, several times cheaper than
        the full models.
        """
        return self._item_pages(
            project_id, batch_id, status, page_size, None, options, summary=True
        )

    def _item_pages(
        self,
        project_id: str,
        batch_id: str,
        status: Sequence[str] | str | None,
        page_size: int,
        page_offset: int | None,
        options: RequestOptions,
        *,
        summary: bool = False,
    ) -> AsyncPaginator[Any]:
        statuses = check_statuses("status", status)
        return self._paginate(
            self._path + "/{batchId}/items",
            path={
                "projectId": check_id("project_id", project_id),
                "batchId": check_id("batch_id", batch_id),
            },
            accept=self._item_accept,
            operation=f"get{self._name}Items",
            paging=ica_paging(page_size, query(status=statuses), offset=page_offset),
            options=options,
            page_model=BatchItemSummaryPage if summary else self._page_model,
        )
