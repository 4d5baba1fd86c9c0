"""Where an in-memory input ends, known before its first chunk is sent.

A run's end of input is recorded in the journal (see ``record_input_end``) so that other
input under the same run id is refused. Recorded only once a worker has read its whole input,
it came too late in a shared run: a worker that joined with a longer input raced ahead of the
correct workers (their reading waits for their in-flight window), created and sent the extra
chunk, and then the correct workers were the ones refused. For an input held in memory (a
sequence) the number of chunks is counted first, with the very chunking that sends them, so
the end is recorded before anything is sent: whoever comes later with other input meets it.
Linking and analysis chunks are counted without being built (a fraction of a second for
200,000 ids); a test checks the counts against the chunking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from ._plan import Chunk, Kind, chunk_analyses, chunk_data_ids, chunk_update_groups

__all__ = ("chunk_count", "chunks_of")


def chunks_of(kind: Kind) -> Callable[[Any, int], AsyncIterator[Chunk]]:
    """The chunking of ``kind``."""
    if kind == "link":
        return chunk_data_ids
    if kind == "update":
        return chunk_update_groups
    return chunk_analyses


async def chunk_count(kind: Kind, items: object, size: int) -> int | None:
    """How many chunks ``items`` makes, if it is a sequence (``None`` for a lazy input, which
    is read once only)."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        return None
    if kind == "analysis":
        return -(-len(items) // size)  # one chunk per ``size`` requests
    if kind == "link":
        return _link_count(items, size)
    count = 0
    async for _ in chunks_of(kind)(items, size):
        count += 1
    return count


def _link_count(ids: Sequence[Any], size: int) -> int:
    """:func:`chunk_data_ids`'s number of chunks without building them (a repeat within a
    chunk takes no place in it); the ids were checked by ``prevalidate``."""
    count, keys = 0, 0
    seen: set[Any] = set()
    for value in ids:
        if value in seen:
            continue
        seen.add(value)
        keys += 1
        if keys == size:
            count, keys, seen = count + 1, 0, set()
    return count + (1 if keys else 0)
