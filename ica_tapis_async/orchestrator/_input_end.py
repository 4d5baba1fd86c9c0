"""Where an in-memory input ends, known before its first chunk is sent.

A run's end of input is recorded in the journal (see ``record_input_end``) so that other
input under the same run id is refused. Recorded only once a worker has read its whole input,
it came too late in a shared run: a worker that joined with a longer input raced ahead of the
correct workers (their reading waits for their in-flight window), created and sent the extra
chunk, and then the correct workers were the ones refused. For an input held in memory (a
sequence) the number of chunks is counted first, with the very chunking that sends them, so
the end is recorded before anything is sent: whoever comes later with other input meets it.
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
    count = 0
    async for _ in chunks_of(kind)(items, size):
        count += 1
    return count
