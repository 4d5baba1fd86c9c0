"""Paging that makes no progress stops with PaginationError (issue 20, point 7).

A hostile or broken server can keep a paginator busy forever without repeating a token: by
cycling through the same pages under ever-new tokens, or by sending empty pages that each name
a next one. The paginator stops both; ``collect`` refuses a negative limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

import ica_tapis_async as ita
from ica_tapis_async._core._paging import MAX_EMPTY_PAGES, CursorPaging, OffsetPaging, Paging
from ica_tapis_async._pagination import AsyncPaginator, Page

LOOPED = 60  # a fetch this many pages in means the paginator would never have stopped


def _cursor_server(pages: Callable[[int], list[str]]) -> tuple[AsyncPaginator[str], list[int]]:
    """A cursor server answering page ``n`` with ``pages(n)`` and always a new token."""
    calls: list[int] = []

    async def fetch(params: list[tuple[str, str]]) -> Page[str]:
        n = len(calls)
        calls.append(n)
        if n >= LOOPED:
            raise AssertionError("the paginator never stopped")
        return Page(pages(n), next_page_token=f"token-{n}")

    return AsyncPaginator(fetch, lambda: CursorPaging(10)), calls


def _offset_server(pages: Sequence[list[str]]) -> tuple[AsyncPaginator[str], list[int]]:
    """An offset server that ignores the offset and cycles through ``pages``, total 10,000."""
    calls: list[int] = []

    async def fetch(params: list[tuple[str, str]]) -> Page[str]:
        n = len(calls)
        calls.append(n)
        if n >= LOOPED:
            raise AssertionError("the paginator never stopped")
        return Page(pages[n % len(pages)], total_item_count=10_000)

    make: Callable[[], Paging] = lambda: OffsetPaging(2)  # noqa: E731
    return AsyncPaginator(fetch, make), calls


async def test_cursor_pages_alternating_under_new_tokens_stop() -> None:
    """Pages A, B, A… each with a fresh token: the third page is a repeat."""
    paginator, calls = _cursor_server(lambda n: ["a1", "a2"] if n % 2 == 0 else ["b1", "b2"])
    with pytest.raises(ita.PaginationError, match="same 2 items as an earlier page"):
        await paginator.collect()
    assert len(calls) == 3


async def test_cursor_empty_pages_with_ever_new_tokens_stop() -> None:
    """Empty pages that keep naming a next page stop after MAX_EMPTY_PAGES of them."""
    paginator, calls = _cursor_server(lambda n: [])
    with pytest.raises(ita.PaginationError, match="empty pages in a row"):
        await paginator.collect()
    assert len(calls) == MAX_EMPTY_PAGES


async def test_a_few_empty_cursor_pages_between_items_are_progress() -> None:
    """Fewer empty pages than the limit, then items, then the end: all items, no error."""
    calls: list[int] = []

    async def fetch(params: list[tuple[str, str]]) -> Page[str]:
        calls.append(len(calls))
        n = len(calls)
        if n < MAX_EMPTY_PAGES:
            return Page([], next_page_token=f"t{n}")
        return Page([f"item-{n}"], next_page_token=None if n > MAX_EMPTY_PAGES else f"t{n}")

    got = await AsyncPaginator(fetch, lambda: CursorPaging(10)).collect()
    assert got == [f"item-{MAX_EMPTY_PAGES}", f"item-{MAX_EMPTY_PAGES + 1}"]


async def test_offset_pages_cycling_with_a_period_of_two_stop() -> None:
    """An offset server cycling A, B, A, B (never the page just before) is stopped at A."""
    paginator, calls = _offset_server([["a1", "a2"], ["b1", "b2"]])
    with pytest.raises(ita.PaginationError, match="earlier page"):
        await paginator.collect()
    assert len(calls) == 3


@pytest.mark.parametrize("limit", [-1, -100, True, 1.5, "3"])
async def test_collect_refuses_a_limit_that_is_no_count(limit: object) -> None:
    """collect(limit=-1) (or a bool, float, str) is a RequestValidationError naming limit."""
    paginator, calls = _cursor_server(lambda n: ["x"])
    with pytest.raises(ita.RequestValidationError) as caught:
        await paginator.collect(limit=limit)  # type: ignore[arg-type]
    assert caught.value.field == "limit"
    assert calls == []


async def test_collect_with_limit_zero_fetches_nothing() -> None:
    """collect(limit=0) is an empty list without a request."""
    paginator, calls = _cursor_server(lambda n: ["x"])
    assert await paginator.collect(limit=0) == []
    assert calls == []
