"""Paginators: ``await`` for the first page, ``async for`` for all items, ``.pages()`` for pages."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from contextlib import aclosing
from typing import Any, Generic, TypeVar

import attrs

from ._core._paging import Paging
from ._errors import RequestValidationError

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
        PaginationError: the server repeated a page token, answered with the same items as an
            earlier page, or sent empty pages with ever-new tokens (instead of looping forever).
    """

    def __init__(self, fetch: PageFetcher[T], make_paging: Callable[[], Paging]) -> None:
        self._fetch = fetch
        self._make_paging = make_paging

    async def pages(self) -> AsyncGenerator[Page[T]]:
        """Yield whole pages until the last one."""
        paging = self._make_paging()
        # A server that ignores the offset, or cycles through pages under ever-new tokens,
        # sends a page again: each page is remembered by a small fingerprint, not its items.
        seen: set[int] = set()
        while not paging.done:
            page = await self._fetch(paging.params())
            fingerprint = _fingerprint(page.items)
            paging.advance(
                page.next_page_token,
                len(page.items),
                page.total_item_count,
                repeated=fingerprint in seen,
            )
            seen.add(fingerprint)
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
        """Every item in a list (at most ``limit``); only for results known to be small.

        Raises:
            RequestValidationError: ``limit`` is not a whole number >= 0.
        """
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise RequestValidationError(f"must be an int >= 0, got {limit!r}", field="limit")
        if limit == 0:
            return []
        out: list[T] = []
        async with aclosing(self.pages()) as pages:
            async for page in pages:
                out.extend(page.items)
                if limit is not None and len(out) >= limit:
                    return out[:limit]
        return out


def _fingerprint(items: list[Any]) -> int:
    """A page by its size and first and last items: two pages of one list never share it.

    Items of one list are distinct, so an item that opens (or closes) a second page means a
    page came again; comparing two items keeps the cost flat for pages of 1,000.
    """
    if not items:
        return 0
    return hash((len(items), repr(items[0]), repr(items[-1])))
