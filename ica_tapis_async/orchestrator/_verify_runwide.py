"""What ``verify_run`` finds only across a whole run: chunks the journal lacks, and Tapis
tasks carrying a recorded tag that the journal does not record."""

from __future__ import annotations

from typing import Any

from .._client import TapisClient
from ._journal_protocol import END_DIGEST, ChunkRecord, Journal, RunRecord
from ._verify_report import Discrepancy

__all__ = ("missing_chunks", "problem", "tasks_twice")


def problem(problem: str, chunk: ChunkRecord, detail: str, **fields: Any) -> Discrepancy:
    """A discrepancy of ``chunk`` (``fields``: its key, journal and server sides)."""
    values: dict[str, Any] = {"key": None, "journal": None, "server": None, **fields}
    return Discrepancy(
        problem=problem, chunk=chunk.index, batch_id=chunk.batch_id, detail=detail, **values
    )


async def missing_chunks(
    journal: Journal, run: RunRecord, chunks: list[ChunkRecord]
) -> list[Discrepancy]:
    """Entries the journal lacks: chunk indexes are dense, so a gap is a chunk it lost; and an
    unfinished run with no end-of-input entry after its last chunk stopped before the rest of
    its input was even claimed. Either way the journal cannot say what the server holds."""
    have = {chunk.index for chunk in chunks}
    top = max(have) + 1 if have else 0

    def missing(index: int, detail: str) -> Discrepancy:
        return Discrepancy(problem="unfinished", key=None, chunk=index, batch_id=None,
                           journal=None, server=None, detail=detail)  # fmt: skip

    found = [
        missing(index, "the journal has no entry for this chunk (its indexes are dense)")
        for index in range(top)
        if index not in have
    ]
    if run.finished_at is None:
        end = await journal.get_chunk(run.run_id, top)
        if end is None or end.digest != END_DIGEST:
            found.append(
                missing(top, "the end of the run's input is not recorded: the run stopped "
                        "before the rest of its input was claimed, so it was never sent")
            )  # fmt: skip
    return found


#: Clock skew allowed between the journal's host and the Tapis server.
_SKEW_S = 600.0


async def tasks_twice(
    tapis: TapisClient, run: RunRecord, chunks: list[ChunkRecord]
) -> list[Discrepancy]:
    """Tasks carrying a recorded tag under another uuid: created twice (Tapis has no
    idempotency key; a create whose answer was lost may have made one); or carrying the tag
    of a chunk the journal recorded no task for (created, though the journal says not).
    Looked for among the caller's most recent tasks, twice as many as the run has and a
    hundred more; tasks created before the run started (an earlier run reusing a ``--tag``
    prefix) are not the run's."""
    # A chunk's key is its task's tag, fixed at its first claim (before any create).
    recorded = {chunk.key: chunk for chunk in chunks}
    if not recorded:
        return []
    most = 2 * len(chunks) + 100
    found: list[Discrepancy] = []
    seen = 0
    async for task in tapis.transfers.list_recent(page_size=min(most, 1000)):
        chunk = recorded.get(task.tag or "")
        if task.created is not None and task.created.timestamp() < run.started_at - _SKEW_S:
            chunk = None  # older than the run: not one it created
        if chunk is not None and chunk.batch_id is None:
            found.append(
                problem("not_in_journal", chunk, "the server holds a task with this chunk's "
                         "tag; the journal recorded none", key=task.tag, server=task.uuid)
            )  # fmt: skip
        elif chunk is not None and task.uuid != chunk.batch_id:
            found.append(
                problem("in_two_batches", chunk, "another task carries this task's tag",
                         key=task.tag, journal=chunk.batch_id, server=task.uuid)
            )  # fmt: skip
        seen += 1
        if seen >= most:
            break
    return found
