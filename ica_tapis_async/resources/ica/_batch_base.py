"""What the three ICA batch resources share: get, get_item and list_items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar, Unpack

from ..._config import RequestOptions
from ..._core._paging import CursorPaging, OffsetPaging, Paging, check_page_size
from ..._core._request import query
from ..._pagination import AsyncPaginator, Page
from .._base import Resource, check_id

__all__ = ("BatchResource",)

BatchT = TypeVar("BatchT")
ItemT = TypeVar("ItemT")


class _PagedList(Protocol[ItemT]):
    items: list[ItemT]
    next_page_token: str | None
    remaining_records: int | None
    total_item_count: int | None


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
        return self._paginate(
            project_id,
            batch_id,
            status=status,
            page_size=page_size,
            page_offset=page_offset,
            page_model=self._page_model,
            options=options,
        )

    def _paginate(
        self,
        project_id: str,
        batch_id: str,
        *,
        status: Sequence[str] | str | None,
        page_size: int,
        page_offset: int | None,
        page_model: type[Any],
        options: RequestOptions,
    ) -> AsyncPaginator[Any]:
        """The item pages of a batch, structured into ``page_model`` (the orchestrator reads a
        slimmer view of each item than the full model)."""
        check_id("project_id", project_id)
        check_id("batch_id", batch_id)
        check_page_size(page_size)
        statuses = [status] if isinstance(status, str) else list(status or [])
        filters = query(status=statuses)

        def make_paging() -> Paging:
            if page_offset is not None:
                return OffsetPaging(page_size, offset=page_offset, extra=filters)
            return CursorPaging(page_size, extra=filters)

        async def fetch(params: list[tuple[str, str]]) -> Page[Any]:
            request = self._request(
                "GET",
                self._path + "/{batchId}/items",
                path={"projectId": project_id, "batchId": batch_id},
                params=params,
                accept=self._item_accept,
                operation=f"get{self._name}Items",
            )
            page: _PagedList[Any] = await self._call(request, page_model, options)
            return Page(
                page.items, page.next_page_token, page.remaining_records, page.total_item_count
            )

        return AsyncPaginator(fetch, make_paging)
