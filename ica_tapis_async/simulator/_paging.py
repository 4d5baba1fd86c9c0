"""ICA paging: cursor (pageToken, remainingRecords) and offset (pageOffset, totalItemCount).

Batch items can number in the millions, so a filtered item list is never materialised: it is an
:class:`IndexView`, a sorted union of a few disjoint sorted index sequences (ranges of items in
the same progress phase, and per-outcome index arrays), and a page is cut out of it with bisects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import itertools
import random
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

import attrs

from ._problems import ProblemError

__all__ = ("IndexView", "PageRequest", "approximate_count", "encode_token", "parse_paging")


@attrs.frozen
class PageRequest:
    """The paging parameters of one list request, validated.

    Attributes:
        mode: ``cursor`` (the default) or ``offset`` (pageOffset or sort given).
        size: page size.
        offset: rows to skip (offset mode).
        position: where the cursor resumes (cursor mode; 0 for the first page).
        sort: the raw sort expression, if any.
    """

    mode: Literal["cursor", "offset"]
    size: int
    offset: int = 0
    position: int = 0
    sort: str | None = None


def _scope_tag(scope: str) -> str:
    return hashlib.blake2b(scope.encode(), digest_size=6).hexdigest()


def encode_token(scope: str, position: int) -> str:
    """An opaque cursor; ``scope`` ties it to one list and filter so it cannot be misused."""
    raw = f"c1:{_scope_tag(scope)}:{position}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_token(token: str, scope: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, tag, position = raw.split(":")
        value = int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value, version, tag = -1, "", ""
    if version != "c1" or tag != _scope_tag(scope) or value < 0:
        raise ProblemError(
            400, "The page token is not valid for this request", parameters={"pageToken": token}
        )
    return value


def approximate_count(
    exact: int, rng: random.Random, *, error: float, absent_rate: float
) -> int | None:
    """``remainingRecords`` as ICA documents it: approximate, and sometimes not there at all.

    The count is off by up to ``error`` of the true value, up or down, drawn anew for each page,
    so it can rise or fall between pages (API-NOTES B3). Paging itself stays exact: the
    ``nextPageToken`` follows the true count.
    """
    if absent_rate and rng.random() < absent_rate:
        return None
    if not error:
        return exact
    return max(0, round(exact * (1.0 + rng.uniform(-error, error))))


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ProblemError(
            400, f"{name} must be a number, got {raw!r}", parameters={name: raw}
        ) from None


def parse_paging(
    query: Mapping[str, str],
    *,
    scope: str,
    max_page_size: int,
    default_page_size: int,
    offset_result_limit: int,
    sortable: bool,
) -> PageRequest:
    """Validate pageOffset/pageToken/pageSize/sort; sort or pageOffset selects offset mode.

    Raises:
        ProblemError: 400 naming the bad parameter.
    """
    size = _int_param(query, "pageSize")
    if size is None:
        size = default_page_size
    elif not 1 <= size <= max_page_size:
        raise ProblemError(
            400,
            f"pageSize must be between 1 and {max_page_size}",
            parameters={"pageSize": str(size)},
        )
    offset = _int_param(query, "pageOffset")
    token = query.get("pageToken") or None
    sort = (query.get("sort") or "").strip() or None
    if sort is not None and not sortable:
        raise ProblemError(400, "This list cannot be sorted", parameters={"sort": sort})
    if token is not None and (offset is not None or sort is not None):
        name = "pageOffset" if offset is not None else "sort"
        raise ProblemError(
            400,
            "pageToken (cursor paging) cannot be combined with pageOffset or sort",
            parameters={name: query.get(name, "")},
        )
    if offset is not None or sort is not None:
        offset = offset or 0
        if offset < 0:
            raise ProblemError(
                400, "pageOffset must be >= 0", parameters={"pageOffset": str(offset)}
            )
        if offset + size > offset_result_limit:
            raise ProblemError(
                400,
                f"Offset-based paging is limited to {offset_result_limit} rows",
                parameters={"pageOffset": str(offset)},
            )
        return PageRequest("offset", size, offset=offset, sort=sort)
    position = _decode_token(token, scope) if token is not None else 0
    return PageRequest("cursor", size, position=position)


@attrs.frozen
class _Part:
    seq: Sequence[int]
    lo: int
    hi: int

    def count_below(self, value: int) -> int:
        return bisect_left(self.seq, value, self.lo, self.hi) - self.lo

    def iter_from(self, value: int) -> Iterator[int]:
        start = bisect_left(self.seq, value, self.lo, self.hi)
        return (self.seq[i] for i in range(start, self.hi))


class IndexView:
    """A sorted set of item indexes made of disjoint sorted parts, paged without copying."""

    def __init__(self, universe: int) -> None:
        self._universe = universe
        self._parts: list[_Part] = []

    def add(self, seq: Sequence[int], lo: int = 0, hi: int | None = None) -> None:
        """Add ``seq[lo:hi]`` (sorted, disjoint from the other parts)."""
        hi = len(seq) if hi is None else hi
        if hi > lo:
            self._parts.append(_Part(seq, lo, hi))

    def __len__(self) -> int:
        return sum(p.hi - p.lo for p in self._parts)

    def count_below(self, value: int) -> int:
        """How many indexes are < ``value``."""
        return sum(p.count_below(value) for p in self._parts)

    def page_from(self, value: int, size: int) -> list[int]:
        """Up to ``size`` indexes >= ``value``, in order."""
        merged = heapq.merge(*(itertools.islice(p.iter_from(value), size) for p in self._parts))
        return list(itertools.islice(merged, size))

    def nth(self, rank: int) -> int | None:
        """The index at position ``rank`` (0-based), or None past the end."""
        if rank >= len(self):
            return None
        lo, hi = 0, self._universe
        while lo < hi:  # smallest x with count_below(x + 1) > rank
            mid = (lo + hi) // 2
            if self.count_below(mid + 1) > rank:
                hi = mid
            else:
                lo = mid + 1
        return lo
