"""Turning a chunk and the server's items into one :class:`ItemOutcome` per input item."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..models import AnalysisItemStatus, LinkingItemStatus, UpdateItemStatus
from ._plan import Chunk, Kind
from ._report import ItemOutcome
from ._views import ItemView

__all__ = (
    "ALL",
    "COMMON",
    "DUPLICATE",
    "FINAL",
    "IN_DOUBT",
    "MISSING",
    "NOT_SUBMITTED",
    "OK",
    "REJECTED",
    "UNKNOWN",
    "chunk_outcomes",
    "item_key",
    "item_outcomes",
)

OK: Final[dict[Kind, frozenset[str]]] = {
    "link": LinkingItemStatus.OK,
    "update": UpdateItemStatus.OK,
    "analysis": AnalysisItemStatus.OK,
}
ALL: Final[dict[Kind, frozenset[str]]] = {
    "link": LinkingItemStatus.ALL,
    "update": UpdateItemStatus.ALL,
    "analysis": AnalysisItemStatus.ALL,
}
FINAL: Final[dict[Kind, frozenset[str]]] = {
    "link": LinkingItemStatus.FINAL,
    "update": UpdateItemStatus.FINAL,
    "analysis": AnalysisItemStatus.FINAL,
}

#: The status most items of a healthy batch end in: counted rather than read.
COMMON: Final[dict[Kind, str]] = {
    "link": LinkingItemStatus.LINKED,
    "update": UpdateItemStatus.UPDATED,
}

#: Statuses of our own, for items the server did not (or not yet) report on.
DUPLICATE: Final = "DUPLICATE"
REJECTED: Final = "REJECTED"
NOT_SUBMITTED: Final = "NOT_SUBMITTED"
UNKNOWN: Final = "UNKNOWN"
MISSING: Final = "MISSING"
IN_DOUBT: Final = "IN_DOUBT"


def item_key(kind: Kind, item: ItemView) -> str:
    """The input key an item reports under: its data id, or its user reference."""
    return str(item.request.user_reference if kind == "analysis" else item.request.data_id)


def chunk_outcomes(
    kind: Kind,
    chunk: Chunk,
    status: str,
    info: str,
    *,
    resubmitted: bool,
    batch_id: str | None = None,
) -> list[ItemOutcome]:
    """The same not-ok outcome for every item of the chunk (duplicates included)."""
    return [
        ItemOutcome(
            kind=kind,
            key=key,
            status=status,
            ok=False,
            info=info,
            batch_id=batch_id,
            chunk=chunk.index,
            resubmitted=resubmitted,
        )
        for key in [*chunk.keys, *chunk.duplicates]
    ]


def item_outcomes(
    kind: Kind,
    chunk: Chunk,
    batch_id: str,
    items: Mapping[str, Any],
    *,
    resubmitted: bool,
    assumed: str | None = None,
    job_final: bool,
) -> list[ItemOutcome]:
    """One outcome per key of the chunk, from the items the server reported.

    With ``assumed``, keys absent from ``items`` were *counted* in that status. Otherwise an
    absent key is ``MISSING`` once the batch's job is final (the server never reported it) and
    ``UNKNOWN`` before. Once the job is final every item is final: a status this library does
    not know, or one still pending (the job stopped or failed before processing the item), is
    kept as the server spelled it, not ok; before that, a non-final item is ``UNKNOWN`` for now.

    Except when the chunk was ``resubmitted`` (an answer was lost, so a link or update chunk
    may have a second, orphan batch on the server that this client cannot see): an item the
    stopped job left pending may have been processed by that orphan, so it is ``IN_DOUBT``,
    with the reason, neither failed nor ok. Analysis chunks are keyed: a lost answer is
    answered again with the same batch, so their pending items were never processed.
    """
    ok, final = OK[kind], FINAL[kind]
    pending = ALL[kind] - final
    outcomes: list[ItemOutcome] = []
    for key in chunk.keys:
        item = items.get(key)
        if item is None:
            if assumed is not None:
                status, good, info = assumed, True, None
            elif job_final:
                status, good, info = MISSING, False, "the server never reported this item"
            else:
                status, good, info = UNKNOWN, False, "no final status before poll_timeout"
            outcomes.append(
                ItemOutcome(
                    kind=kind,
                    key=key,
                    status=status,
                    ok=good,
                    info=info,
                    batch_id=batch_id,
                    chunk=chunk.index,
                    resubmitted=resubmitted,
                )
            )
            continue
        spelled = item.processing.status
        status = spelled if spelled in final or job_final else UNKNOWN
        info = item.processing.additional_status_information
        if status in pending and resubmitted and kind != "analysis":
            status, info = IN_DOUBT, _orphan_doubt(batch_id, info)
        created = getattr(item, "created_analysis", None)
        outcomes.append(
            ItemOutcome(
                kind=kind,
                key=key,
                status=status,
                ok=status in ok,
                info=info,
                batch_id=batch_id,
                item_id=item.id,
                chunk=chunk.index,
                resubmitted=resubmitted,
                analysis_id=created.id if created is not None else None,
            )
        )
    # A repeat shares its item's fate: ok only if the item is (a stopped job, a failure or a
    # doubt of the item is the repeat's too).
    fate = {o.key: o for o in outcomes}
    for dup in chunk.duplicates:
        first = fate.get(dup)
        if first is not None and not first.ok:
            info = f"repeated in the same batch; sent once: {first.info}"
            outcomes.append(attrs.evolve(first, info=info))
            continue
        outcomes.append(
            ItemOutcome(
                kind=kind,
                key=dup,
                status=DUPLICATE,
                ok=True,
                info="repeated in the same batch; sent once",
                batch_id=batch_id,
                chunk=chunk.index,
                resubmitted=resubmitted,
            )
        )
    return outcomes


def _orphan_doubt(batch_id: str, server_info: str | None) -> str:
    why = f" ({server_info})" if server_info else ""
    return (
        f"the job of batch {batch_id} stopped before processing this item{why}, but its chunk "
        "was sent more than once after an answer was lost, so an earlier batch of it that "
        "this client never heard of may have processed it: check the data before sending "
        "it again"
    )
