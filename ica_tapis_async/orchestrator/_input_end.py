"""Where an in-memory input ends, known before its first chunk is sent.

A run's end of input is recorded in the journal (see ``record_input_end``) so that other
input under the same run id is refused. Recorded only once a worker has read its whole input,
it came too late in a shared run: a worker that joined with a longer input raced ahead of the
correct workers (their reading waits for their in-flight window), created and sent the extra
chunk, and then the correct workers were the ones refused. For an input held in memory (a
sequence) the number of chunks is counted first, with the very chunking that sends them, so
the end is recorded before anything is sent: whoever comes later with other input meets it.
The record carries a fingerprint of all the chunks' digests (:func:`input_fingerprint`, a
quarter of a second for 200,000 ids), so other items in a chunk nobody has sent yet (one id
less in the last chunk: as many chunks) are refused there too, not only another length.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from ._plan import Chunk, Kind, chunk_analyses, chunk_data_ids, chunk_update_groups

__all__ = ("InputDigest", "chunk_count", "chunks_of", "input_fingerprint")


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


class InputDigest:
    """The whole input's fingerprint, folded from its chunks' digests in order: a late worker
    whose input differs only in a chunk the run has not sent yet (one id less in the last
    chunk, the same number of chunks) is refused at the end-of-input record, before it sends
    its version of that chunk."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, chunk: Chunk) -> None:
        """Fold in the next chunk."""
        self._hash.update(chunk.digest.encode() + b"\n")
        self.count += 1

    def hexdigest(self) -> str:
        """The fingerprint of the chunks folded in so far."""
        return self._hash.hexdigest()


async def input_fingerprint(kind: Kind, items: object, size: int) -> InputDigest | None:
    """The fingerprint of ``items`` if it is a sequence (``None`` for a lazy input, which is
    read once only): its chunks are built, with the very chunking that sends them."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        return None
    digest = InputDigest()
    async for chunk in chunks_of(kind)(items, size):
        digest.add(chunk)
    return digest
