"""Paginators: ``await`` for the first page, ``async for`` for all items, ``.pages()`` for pages."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing
from typing import Generic, TypeVar

import attrs

from ._core._paging import OffsetPaging, Paging

__all__ = ("AsyncPaginator", "Page", "PageFetcher")

T = TypeVar("T")


@attrs.define(frozen=True)
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: the page's items, already structured into models.
        next_page_token: the cursor for the next page (ICA cursor paging), else ``None``.
        remaining_records: ICA's approximate count of records after this page (cursor paging).
        total_item_count: ICA's total count (offset paging).
    """

    items: list[T]
    next_page_token: str | None = None
    remaining_records: int | None = None
    total_item_count: int | None = None


#: Fetches one page given the paging query pairs.
PageFetcher = Callable[[list[tuple[str, str]]], Awaitable[Page[T]]]


class AsyncPaginator(Generic[T]):
    """Pages through a list operation on demand; nothing is fetched until it is used.

    Example::

        async for item in ica.data_linking_batches.list_items(pid, bid, status=["FAILED"]):
            print(item.request.data_id, item.processing.additional_status_information)
        first = await ica.data_transfers.list(pid)           # the first page only
        async for page in ica.data_transfers.list(pid).pages():
            print(len(page.items), page.remaining_records)

    Raises:
        PaginationError: the server repeated a page token, or answered an offset page with the
            same items as the page before (instead of looping forever).
    """

    def __init__(self, fetch: PageFetcher[T], make_paging: Callable[[], Paging]) -> None:
        self._fetch = fetch
        self._make_paging = make_paging

    async def pages(self) -> AsyncGenerator[Page[T]]:
        """Yield whole pages until the last one."""
        paging = self._make_paging()
        # Only offset paging can be fooled by a server that ignores where to start; a cursor
        # is checked by its token, so cursor pages are not compared.
        compare = isinstance(paging, OffsetPaging)
        previous: list[T] | None = None
        while not paging.done:
            page = await self._fetch(paging.params())
            repeated = compare and previous is not None and page.items == previous
            paging.advance(
                page.next_page_token,
                len(page.items),
                page.total_item_count,
                repeated=repeated,
            )
            if compare:
                previous = page.items
            yield page

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def first_page(self) -> Page[T]:
        """Fetch only the first page."""
        return await self._fetch(self._make_paging().params())

    def __await__(self) -> Generator[object, None, Page[T]]:
        return self.first_page().__await__()

    async def collect(self, limit: int | None = None) -> list[T]:
        """Every item in a list (at most ``limit``); only for results known to be small."""
        out: list[T] = []
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                out.extend(page.items)
                if limit is not None and len(out) >= limit:
                    return out[:limit]
        return out
