"""Paging state machines: cursor tokens and offsets."""

from __future__ import annotations

import pytest

from ica_tapis_async._core._paging import CursorPaging, OffsetPaging, check_page_size
from ica_tapis_async._errors import PaginationError, RequestValidationError


def test_cursor_follows_tokens_until_empty() -> None:
    """The token is sent from the second page on; an empty token ends paging."""
    paging = CursorPaging(100, extra=[("status", "FAILED")])
    assert paging.params() == [("pageSize", "100"), ("status", "FAILED")]
    paging.advance("t1", 100)
    assert paging.params()[-1] == ("pageToken", "t1")
    paging.advance("", 3)
    assert paging.done


def test_cursor_repeated_token_raises() -> None:
    """A token seen twice raises PaginationError instead of looping."""
    paging = CursorPaging(10)
    paging.advance("t1", 10)
    paging.advance("t2", 10)
    with pytest.raises(PaginationError, match="twice"):
        paging.advance("t1", 10)


def test_offset_stops_on_short_page_or_total() -> None:
    """Offset paging stops on a short page, an empty page or at the total."""
    paging = OffsetPaging(10, extra=[("sort", "status")])
    assert paging.params() == [("pageOffset", "0"), ("pageSize", "10"), ("sort", "status")]
    paging.advance("", 10, total=25)
    assert not paging.done
    assert paging.offset == 10
    paging.advance("", 10, total=25)
    paging.advance("", 5, total=25)
    assert paging.done
    full = OffsetPaging(10)
    full.advance(None, 10, total=10)
    assert full.done


def test_offset_goes_on_past_a_short_page_while_total_says_rows_remain() -> None:
    """A page capped below the size asked does not end paging while rows remain (issue 9)."""
    paging = OffsetPaging(100)
    paging.advance(None, 40, total=90)
    assert not paging.done
    assert paging.params()[0] == ("pageOffset", "40")
    paging.advance(None, 40, total=90)
    paging.advance(None, 10, total=90)
    assert paging.done


def test_offset_without_total_stops_on_a_short_page() -> None:
    """Without a total a short page is the last."""
    paging = OffsetPaging(100, offset_param="offset", size_param="limit")
    paging.advance(None, 99)
    assert paging.done


def test_offset_empty_page_ends_even_when_total_says_more() -> None:
    """An empty page ends paging, whatever the total claims."""
    paging = OffsetPaging(10)
    paging.advance(None, 0, total=50)
    assert paging.done


def test_offset_repeated_page_raises() -> None:
    """A page equal to the one before means the offset is ignored: PaginationError."""
    paging = OffsetPaging(10)
    paging.advance(None, 10, total=100)
    with pytest.raises(PaginationError, match="ignores the offset"):
        paging.advance(None, 10, total=100, repeated=True)


def test_page_size_bounds() -> None:
    """page_size must be an int within 1..max."""
    assert check_page_size(1000) == 1000
    for bad in (0, 1001, True, "10"):
        with pytest.raises(RequestValidationError, match="page_size"):
            check_page_size(bad)  # type: ignore[arg-type]
