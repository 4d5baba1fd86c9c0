"""Batches: compact per-batch state and the time-driven progression of their items.

A batch keeps arrays, not objects: the submitted data ids, one outcome byte per item (decided at
creation), and for update batches the group of each item. An item's status at time ``t`` is
computed from its index: items start one after another at ``item_rate`` per second, each spends
``step_s`` per status step, then shows its outcome. Item JSON is built only for the page asked.
"""

from __future__ import annotations

import functools
import heapq
import math
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Collection
from typing import Any, Literal

import attrs

from ._auth import Identity
from ._data_state import DataStore
from ._paging import IndexView

__all__ = (
    "ANALYSIS_OUTCOMES",
    "AnalysisRequest",
    "Batch",
    "BatchKind",
    "LINKING_OUTCOMES",
    "Outcome",
    "UPDATE_OUTCOMES",
    "item_id",
    "item_index",
    "settle",
)

BatchKind = Literal["linking", "update", "analysis"]


@attrs.frozen
class Outcome:
    """A final item result: its status (v4 spelling), whether it counts as success or partial
    success for the Job, and the additionalStatusInformation shown with it."""

    status: str
    ok: bool = False
    partial: bool = False
    info: str | None = None


LINKING_OUTCOMES = (
    Outcome("LINKED", ok=True),
    Outcome("ALREADY_LINKED", ok=True, info="The data is already linked to this project."),
    Outcome("PARTIALLY_LINKED", partial=True, info="Part of the folder content is not available."),
    Outcome("FAILED", info="Data not found."),
    Outcome("FAILED", info="Invalid data id: expected fil.<id> or fol.<id>."),
)
(LINKED, ALREADY_LINKED, PARTIALLY_LINKED, LINK_NOT_FOUND, LINK_INVALID) = range(5)

UPDATE_OUTCOMES = (
    Outcome("UPDATED", ok=True),
    Outcome(
        "PARTIALLY_UPDATED", partial=True, info="Part of the folder content could not be updated."
    ),
    Outcome("FAILED", info="Data not found."),
    Outcome("FAILED", info="Invalid data id: expected fil.<id> or fol.<id>."),
    Outcome("FAILED", info="willBeArchivedAt and willBeDeletedAt cannot be set on a folder."),
)
(UPDATED, PARTIALLY_UPDATED, UPDATE_NOT_FOUND, UPDATE_INVALID, UPDATE_FOLDER_DATES) = range(5)

ANALYSIS_OUTCOMES = (
    Outcome("SUCCEEDED", ok=True),
    Outcome("FAILED", info="Pipeline not found."),
    Outcome("FAILED", info="Input data not found."),
)
(ANALYSIS_OK, ANALYSIS_NO_PIPELINE, ANALYSIS_NO_DATA) = range(3)

_OUTCOMES: dict[BatchKind, tuple[Outcome, ...]] = {
    "linking": LINKING_OUTCOMES,
    "update": UPDATE_OUTCOMES,
    "analysis": ANALYSIS_OUTCOMES,
}
# item statuses before the outcome: (initialised, waiting, running)
_PRE: dict[BatchKind, tuple[str, str, str]] = {
    "linking": ("INITIALISED", "WAITING_RESOURCES", "RUNNING"),
    "update": ("INITIALISED", "WAITING_RESOURCES", "UPDATING"),
    "analysis": ("WAITING_RESOURCES", "WAITING_RESOURCES", "RUNNING"),
}
SUBJECT_TYPES: dict[BatchKind, str] = {
    "linking": "ProjectDataLinkingBatch",
    "update": "ProjectDataUpdateBatch",
    "analysis": "AnalysisCreationBatch",
}

# item ids: uuid prefix of the batch + an invertible scramble of the index in the last 48 bits
_MOD = 1 << 48
_MULT = 0x5DEECE66D_B  # odd, so invertible mod 2**48
_INV = pow(_MULT, -1, _MOD)


@functools.lru_cache(maxsize=1024)
def _item_base(batch_id: str) -> tuple[bytes, int]:
    base = uuid.uuid5(uuid.UUID(batch_id), "items").bytes
    return base[:10], int.from_bytes(base[10:], "big")


def item_id(batch_id: str, index: int) -> str:
    """The stable uuid of item ``index`` of a batch."""
    prefix, mask = _item_base(batch_id)
    low = (index * _MULT + mask) % _MOD
    return str(uuid.UUID(bytes=prefix + low.to_bytes(6, "big")))


def item_index(batch_id: str, item: uuid.UUID, size: int) -> int | None:
    """The index behind item id ``item`` of a batch of ``size`` items, or None if it is not one."""
    prefix, mask = _item_base(batch_id)
    raw = item.bytes
    if raw[:10] != prefix:
        return None
    index = ((int.from_bytes(raw[10:], "big") - mask) * _INV) % _MOD
    return index if index < size else None


@attrs.frozen
class AnalysisRequest:
    """What one analysis creation item asked for (kept per item; analysis batches are small)."""

    user_reference: str
    pipeline_id: str
    language: str
    technical_tags: tuple[str, ...] = ()
    user_tags: tuple[str, ...] = ()
    reference_tags: tuple[str, ...] = ()


@attrs.frozen
class Phase:
    """Where a batch is at one instant: items [0, finished) show their outcome, [finished,
    started) run, the rest wait (or are still initialised)."""

    initialised: bool
    started: int
    finished: int


@attrs.define(eq=False)
class Batch:
    """One batch of any kind. Timings are frozen at creation, so ``configure`` does not reshuffle
    batches already running."""

    id: str
    kind: BatchKind
    project_id: str
    owner: Identity
    created: float
    step: float
    rate: float
    outcomes: bytearray
    data_ids: list[str] = attrs.Factory(list)
    group_of: array[int] | None = None
    groups: list[dict[str, Any]] = attrs.Factory(list)
    requests: list[AnalysisRequest] = attrs.Factory(list)
    applied: int = 0
    stop_at: int | None = None
    _by_outcome: dict[int, array[int]] = attrs.Factory(dict)
    _counts: tuple[int, ...] | None = None

    @property
    def size(self) -> int:
        """Number of items."""
        return len(self.outcomes)

    @property
    def outcome_table(self) -> tuple[Outcome, ...]:
        """The outcomes of this batch kind, indexed by outcome code."""
        return _OUTCOMES[self.kind]

    @property
    def subject_type(self) -> str:
        """The Job subjectType of this batch kind."""
        return SUBJECT_TYPES[self.kind]

    def _queue(self) -> float:
        return 2 * self.step

    @property
    def limit(self) -> int:
        """How many items will ever be processed (fewer than all when the job stops)."""
        return self.size if self.stop_at is None else self.stop_at

    def stop_time(self) -> float | None:
        """When the job stops (None: it does not)."""
        if self.stop_at is None:
            return None
        if self.stop_at == 0:
            return self.created + self._queue()
        return self.finish_time(self.stop_at - 1)

    def phase(self, now: float) -> Phase:
        """The progress of the batch at ``now``."""
        elapsed, n = now - self.created, self.limit
        q = self._queue()
        started = 0 if elapsed < q else min(n, math.floor((elapsed - q) * self.rate) + 1)
        done_at = q + self.step
        finished = (
            0 if elapsed < done_at else min(n, math.floor((elapsed - done_at) * self.rate) + 1)
        )
        return Phase(elapsed < self.step, started, finished)

    def finish_time(self, index: int) -> float:
        """When item ``index`` shows its outcome."""
        return self.created + self._queue() + self.step + index / self.rate

    def start_time(self, index: int) -> float:
        """When item ``index`` starts running."""
        return self.created + self._queue() + index / self.rate

    def item_status(self, index: int, phase: Phase) -> tuple[str, Outcome | None]:
        """(status, outcome if final) of item ``index``, v4 spelling."""
        if index < phase.finished:
            outcome = self.outcome_table[self.outcomes[index]]
            return outcome.status, outcome
        pre = _PRE[self.kind]
        if index < phase.started:
            return pre[2], None
        return (pre[0] if phase.initialised else pre[1]), None

    def job_status(self, now: float) -> tuple[str, str | None, float | None, float | None]:
        """(Job status, additionalStatusInformation, timeStarted, timeFinished) at ``now``."""
        phase = self.phase(now)
        started_at = self.created + self.step if not phase.initialised else None
        if phase.initialised:
            return "INITIALIZED", None, None, None
        stopped = self.stop_time()
        if stopped is not None and now >= stopped:
            left = self.size - self.limit
            info = f"The job was stopped; {left} of {self.size} items were not processed."
            return "STOPPED", info, started_at, stopped
        if phase.started == 0:
            return "WAITING_FOR_RESOURCES", None, started_at, None
        if phase.finished < self.size:
            return "RUNNING", None, started_at, None
        table = self.outcome_table
        counts = self.counts()
        ok = sum(counts[code] for code, o in enumerate(table) if o.ok)
        failed = self.size - ok
        finished_at = self.finish_time(self.size - 1)
        if failed == 0:
            return "SUCCEEDED", None, started_at, finished_at
        partial = sum(counts[code] for code, o in enumerate(table) if o.partial)
        info = f"{failed} of {self.size} items did not succeed."
        status = "FAILED" if ok == 0 and partial == 0 else "PARTIALLY_SUCCEEDED"
        return status, info, started_at, finished_at

    def counts(self) -> tuple[int, ...]:
        """How many items end with each outcome code (cached until ``settle`` changes one)."""
        if self._counts is None:
            self._counts = tuple(self.outcomes.count(c) for c in range(len(self.outcome_table)))
        return self._counts

    def _indexes_of(self, code: int) -> array[int]:
        cached = self._by_outcome.get(code)
        if cached is None:
            cached = array("I", (i for i, c in enumerate(self.outcomes) if c == code))
            self._by_outcome[code] = cached
        return cached

    def view(
        self, now: float, statuses: Collection[str] | None, display: dict[str, str]
    ) -> IndexView:
        """The items whose displayed status is in ``statuses`` (all when None), as a view.

        ``display`` maps a v4 status to what the caller's media version shows (v3 linking shows
        PARTIALLY_LINKED as FAILED).
        """
        n = self.size
        view = IndexView(n)
        if statuses is None:
            view.add(range(n))
            return view
        phase = self.phase(now)
        wanted = set(statuses)
        table = self.outcome_table
        codes = [c for c, o in enumerate(table) if display.get(o.status, o.status) in wanted]
        present = {c for c, count in enumerate(self.counts()) if count}
        if codes and set(codes) >= present:
            view.add(range(phase.finished))
        else:
            for code in codes:
                indexes = self._indexes_of(code)
                view.add(indexes, 0, bisect_left(indexes, phase.finished))
        pre = _PRE[self.kind]
        if pre[2] in wanted:
            view.add(range(phase.finished, phase.started))
        if (pre[0] if phase.initialised else pre[1]) in wanted:
            view.add(range(phase.started, n))
        return view

    def apply(self, lo: int, hi: int, store: DataStore) -> None:
        """Make the effect of items ``lo`` to ``hi - 1`` real, at their finish time.

        A linking item links its data now, so ALREADY_LINKED is decided by which batch links the
        id first, not by which was created first (a second batch created while the first is
        pending meets the real race). An update item writes its changes to the data store.
        """
        outcomes, ids = self.outcomes, self.data_ids
        if self.kind == "linking":
            linked = store.linked_set(self.project_id)
            changed = False
            for index in range(lo, hi):
                if outcomes[index] in (LINKED, PARTIALLY_LINKED):
                    data_id = ids[index]
                    if data_id in linked:
                        outcomes[index] = ALREADY_LINKED
                        changed = True
                    else:
                        linked.add(data_id)
            if changed:
                self._counts = None
                self._by_outcome.clear()
        elif self.kind == "update" and self.group_of is not None:
            table = self.outcome_table
            for index in range(lo, hi):
                code = outcomes[index]
                if table[code].ok or code == PARTIALLY_UPDATED:
                    store.apply_update(ids[index], self.groups[self.group_of[index]])

    def finished_by(self, t: float) -> int:
        """How many items have finished at time ``t`` (uncapped by ``limit``)."""
        return max(0, math.floor((t - self.created - self._queue() - self.step) * self.rate) + 1)

    @property
    def settled(self) -> bool:
        """Whether every item that will ever finish has been applied."""
        return self.kind == "analysis" or self.applied >= self.limit


def settle(batches: list[Batch], store: DataStore, now: float) -> None:
    """Apply the items of ``batches`` that finished by ``now``, in the order they finished.

    Items of one batch finish in index order; across batches the earliest finish goes first, so
    two batches racing for the same data id link it in the order the real service would.
    """
    heap: list[tuple[float, int, int]] = []
    for i, batch in enumerate(batches):
        target = batch.phase(now).finished
        if batch.applied < target:
            heap.append((batch.finish_time(batch.applied), i, target))
    heapq.heapify(heap)
    while heap:
        _, i, target = heapq.heappop(heap)
        batch = batches[i]
        # run this batch until another batch's next item finishes earlier (at least one item)
        hi = (
            target
            if not heap
            else min(target, max(batch.applied + 1, batch.finished_by(heap[0][0])))
        )
        batch.apply(batch.applied, hi, store)
        batch.applied = hi
        if hi < target:
            heapq.heappush(heap, (batch.finish_time(hi), i, target))
