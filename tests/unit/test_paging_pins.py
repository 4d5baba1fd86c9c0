"""Pins on paging: offsets with small pages, cursor tokens, page size limits."""

from __future__ import annotations

import pytest

from ica_tapis_async._core._paging import CursorPaging, OffsetPaging, check_page_size
from ica_tapis_async._errors import PaginationError, RequestValidationError


def test_offset_paging_with_page_size_one_walks_every_item() -> None:
    """Pages of one: the offset moves by one each page and stops on the empty page."""
    paging = OffsetPaging(1)
    offsets = []
    for n_items in (1, 1, 1, 0):
        offsets.append(paging.params()[0])
        paging.advance(None, n_items)
    assert offsets == [
        ("pageOffset", "0"),
        ("pageOffset", "1"),
        ("pageOffset", "2"),
        ("pageOffset", "3"),
    ]


def test_offset_paging_with_page_size_one_is_not_done_after_a_full_page() -> None:
    """A page of one item when one was asked for is a full page: go on."""
    paging = OffsetPaging(1)
    paging.advance(None, 1)
    assert not paging.done


def test_offset_paging_with_page_size_one_stops_at_the_total() -> None:
    """With a total of 2, two pages of one are all there is."""
    paging = OffsetPaging(1)
    paging.advance(None, 1, total=2)
    paging.advance(None, 1, total=2)
    assert (paging.done, paging.offset) == (True, 2)


def test_offset_paging_goes_on_below_the_total() -> None:
    """Full pages and an offset below the total: not done."""
    paging = OffsetPaging(2)
    paging.advance(None, 2, total=5)
    assert (paging.done, paging.offset) == (False, 2)


def test_offset_paging_without_total_stops_on_the_empty_page() -> None:
    """Full pages and no total: the empty page ends it."""
    paging = OffsetPaging(2)
    paging.advance(None, 2)
    paging.advance(None, 2)
    first = paging.done
    paging.advance(None, 0)
    assert (first, paging.done, paging.offset) == (False, True, 4)


def test_offset_paging_stops_on_a_short_page() -> None:
    """Fewer items than asked for means the last page."""
    paging = OffsetPaging(3)
    paging.advance(None, 2)
    assert paging.done


def test_tapis_offset_paging_parameter_names() -> None:
    """Tapis pages with ``offset`` and ``limit``, extras after them."""
    paging = OffsetPaging(
        50, offset_param="offset", size_param="limit", extra=[("orderBy", "created")]
    )
    paging.advance(None, 50)
    assert paging.params() == [("offset", "50"), ("limit", "50"), ("orderBy", "created")]


def test_cursor_first_page_has_no_token() -> None:
    """The first request carries the page size and filters only."""
    assert CursorPaging(5, extra=[("a", "1")]).params() == [("pageSize", "5"), ("a", "1")]


def test_cursor_token_comes_after_the_filters_on_every_page() -> None:
    """Filters are repeated on each page; the token is the last pair."""
    paging = CursorPaging(5, extra=[("a", "1")])
    paging.advance("t1", 5)
    paging.advance("t2", 5)
    assert paging.params() == [("pageSize", "5"), ("a", "1"), ("pageToken", "t2")]


@pytest.mark.parametrize("token", [None, ""])
def test_cursor_without_next_token_is_done(token: str | None) -> None:
    """No token (None or empty) ends paging, even after a full page."""
    paging = CursorPaging(5)
    paging.advance(token, 5)
    assert paging.done


def test_cursor_with_next_token_is_not_done() -> None:
    """A token means there is more."""
    paging = CursorPaging(5)
    paging.advance("t1", 5)
    assert not paging.done


def test_repeated_token_message_is_whole() -> None:
    """The error says which token came back."""
    paging = CursorPaging(5)
    paging.advance("t1", 5)
    with pytest.raises(PaginationError) as info:
        paging.advance("t1", 5)
    assert str(info.value) == "the server sent next page token 't1' twice; stopping"


def test_repeated_long_token_is_cut_to_40_characters() -> None:
    """A long token is shown by its first 40 characters."""
    token = "a" * 40 + "b" * 60
    paging = CursorPaging(5)
    paging.advance(token, 5)
    with pytest.raises(PaginationError) as info:
        paging.advance(token, 5)
    assert str(info.value) == f"the server sent next page token {'a' * 40!r} twice; stopping"


@pytest.mark.parametrize("size", [1, 1000])
def test_page_size_bounds_are_inclusive(size: int) -> None:
    """1 and 1000 are both allowed."""
    assert check_page_size(size) == size


@pytest.mark.parametrize("size", [0, 1001, -5])
def test_page_size_outside_the_bounds_is_refused(size: int) -> None:
    """Outside 1..1000 is refused with the bounds in the message."""
    with pytest.raises(RequestValidationError) as info:
        check_page_size(size)
    assert str(info.value) == "page_size: must be between 1 and 1000"


@pytest.mark.parametrize("size", [True, 10.0, "10", None])
def test_page_size_must_be_an_int(size: object) -> None:
    """Bools, floats, strings and None are refused as not ints."""
    with pytest.raises(RequestValidationError) as info:
        check_page_size(size)  # type: ignore[arg-type]
    assert str(info.value) == "page_size: must be an int"


def test_page_size_maximum_can_be_lowered() -> None:
    """A resource with a smaller limit passes its own maximum."""
    with pytest.raises(RequestValidationError) as info:
        check_page_size(101, maximum=100)
    assert str(info.value) == "page_size: must be between 1 and 100"
