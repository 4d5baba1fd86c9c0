"""Next-page logic: ICA cursor (``pageToken``) or offset (``pageOffset``), Tapis limit/offset."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from .._errors import PaginationError, RequestValidationError

__all__ = ("MAX_EMPTY_PAGES", "CursorPaging", "OffsetPaging", "Paging", "check_page_size")

ICA_MAX_PAGE_SIZE = 1000
#: Empty pages in a row, each with a new next-page token, after which a cursor is a loop.
MAX_EMPTY_PAGES = 10


def check_page_size(page_size: int, *, maximum: int = ICA_MAX_PAGE_SIZE) -> int:
    """Validate ``page_size`` (1..maximum)."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise RequestValidationError("must be an int", field="page_size")
    if not 1 <= page_size <= maximum:
        raise RequestValidationError(f"must be between 1 and {maximum}", field="page_size")
    return page_size


@attrs.define
class CursorPaging:
    """ICA cursor paging: follow ``nextPageToken`` until empty.

    A token seen before, a page with the same items as an earlier one (a server cycling
    through pages under ever-new tokens), or :data:`MAX_EMPTY_PAGES` empty pages in a row
    that still name a next page raise :class:`PaginationError`: none of them is progress.
    """

    page_size: int
    extra: Sequence[tuple[str, str]] = ()
    token: str | None = None
    done: bool = False
    _seen: set[str] = attrs.field(factory=set)
    _empty: int = 0

    def params(self) -> list[tuple[str, str]]:
        """Query pairs for the next request (the filters are repeated on every page)."""
        pairs = [("pageSize", str(self.page_size)), *self.extra]
        if self.token:
            pairs.append(("pageToken", self.token))
        return pairs

    def advance(
        self,
        next_token: str | None,
        n_items: int,
        total: int | None = None,
        *,
        repeated: bool = False,
    ) -> None:
        """Record a page; ``repeated``: it held the same items as an earlier page.

        Raises:
            PaginationError: a token seen before, a repeated page, or too many empty pages.
        """
        if repeated and n_items:
            raise PaginationError(
                f"the server answered page token {(self.token or '')[:40]!r} with the same "
                f"{n_items} items as an earlier page; stopping"
            )
        if not next_token:
            self.done = True
            return
        self._empty = self._empty + 1 if n_items == 0 else 0
        if self._empty >= MAX_EMPTY_PAGES:
            raise PaginationError(
                f"the server sent {self._empty} empty pages in a row, each naming a next page; "
                "stopping"
            )
        if next_token in self._seen:
            raise PaginationError(
                f"the server sent next page token {next_token[:40]!r} twice; stopping"
            )
        self._seen.add(next_token)
        self.token = next_token


@attrs.define
class OffsetPaging:
    """Offset paging (ICA ``pageOffset`` with sorting, Tapis ``offset``/``limit``).

    When the server gives a ``total`` (ICA's ``totalItemCount``), paging goes on until the
    offset reaches it, even past a short page (a server may cap a page below the size asked);
    without one, a short page is the last. An empty page always ends it, and a page with the
    same items as an earlier one raises :class:`PaginationError`: the server ignores the
    offset (or cycles through pages), and following it would loop (or, with a total, repeat
    rows until it).
    """

    page_size: int
    offset: int = 0
    offset_param: str = "pageOffset"
    size_param: str = "pageSize"
    extra: Sequence[tuple[str, str]] = ()
    done: bool = False

    def params(self) -> list[tuple[str, str]]:
        """Query pairs for the next request."""
        return [
            (self.offset_param, str(self.offset)),
            (self.size_param, str(self.page_size)),
            *self.extra,
        ]

    def advance(
        self,
        next_token: str | None,
        n_items: int,
        total: int | None = None,
        *,
        repeated: bool = False,
    ) -> None:
        """Record a page of ``n_items``; ``repeated``: it held the same items as an earlier one."""
        if repeated and n_items:
            raise PaginationError(
                f"the server answered {self.offset_param}={self.offset} with the same "
                f"{n_items} items as an earlier page (it ignores the offset); stopping"
            )
        self.offset += n_items
        if n_items == 0:
            self.done = True
        elif total is not None:
            self.done = self.offset >= total
        else:
            self.done = n_items < self.page_size


Paging = CursorPaging | OffsetPaging
