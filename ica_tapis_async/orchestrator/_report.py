"""What the orchestrator reports: one outcome per input item, a report, progress snapshots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ("BatchReport", "ItemOutcome", "Progress", "ProgressCallback")


@attrs.define(frozen=True, kw_only=True)
class ItemOutcome:
    """The final word on one input item (built with keyword arguments only).

    Attributes:
        kind: ``"link"``, ``"update"`` or ``"analysis"``.
        key: the data id (link, update) or the user reference (analysis).
        status: the item's final status (e.g. ``LINKED``), ``DUPLICATE`` for a repeat that was
            collapsed into an earlier identical item, or ``UNKNOWN`` when the server never gave
            a final status in time (the journal lets a later run pick it up).
        ok: whether the status counts as success for this kind.
        info: ``additionalStatusInformation`` from the server, or our explanation.
        batch_id: the server batch the item went in.
        item_id: the server's item id; ``None`` for items in the batch's usual success status
            (LINKED, UPDATED), which are counted rather than downloaded.
        chunk: index of the chunk (batch) in this run.
        resubmitted: the item's batch was sent again after an answer was lost, so the server
            may have seen it twice (harmless for links and updates; analyses are keyed).
        analysis_id: the created analysis (analysis batches).
        request: for an item that did not succeed, its input: the data id (link), the update
            group it was sent in (update) or the analysis request (analysis).
    """

    kind: str
    key: str
    status: str
    ok: bool
    info: str | None = None
    batch_id: str | None = None
    item_id: str | None = None
    chunk: int = 0
    resubmitted: bool = False
    analysis_id: str | None = None
    request: Any = attrs.field(default=None, repr=False, eq=False)


@attrs.define(frozen=True)
class Progress:
    """A snapshot for progress displays; cheap to build, safe to keep.

    Attributes:
        kind: what is running.
        submitted: items sent (or found in the journal) so far.
        finished: items with a final status so far, by status.
        in_flight: batches submitted and not yet finished.
        requests: HTTP attempts made by the client since the run started.
        throttled: throttled answers since the run started.
    """

    kind: str
    submitted: int
    finished: Mapping[str, int]
    in_flight: int
    requests: int
    throttled: int

    @property
    def done(self) -> int:
        """Items with a final status."""
        return sum(self.finished.values())


ProgressCallback = Callable[[Progress], None]


@attrs.define
class BatchReport:
    """The result of a run: every input item counted exactly once.

    Attributes:
        run_id: the run, as recorded in the journal.
        kind: ``"link"``, ``"update"`` or ``"analysis"``.
        counts: final item status -> number of items.
        failures: every item that did not succeed, with its status and server information.
        total: input items.
        batches: batches used (sent now or found finished in the journal).
        requests: HTTP attempts made.
        retries: attempts that repeated a failed one.
        throttled: throttled answers (429 and the like).
        resubmitted: items whose batch was sent again after a lost answer.
        elapsed_s: wall time of the run.
    """

    run_id: str
    kind: str
    counts: dict[str, int] = attrs.field(factory=dict)
    failures: list[ItemOutcome] = attrs.field(factory=list)
    total: int = 0
    batches: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    resubmitted: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every item succeeded."""
        return not self.failures

    def add(self, outcome: ItemOutcome) -> None:
        """Count one outcome."""
        self.total += 1
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if not outcome.ok:
            self.failures.append(outcome)
        if outcome.resubmitted:
            self.resubmitted += 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (failures with key, status, info)."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "total": self.total,
            "counts": dict(sorted(self.counts.items())),
            "failures": [
                {"key": f.key, "status": f.status, "info": f.info, "batch_id": f.batch_id}
                for f in self.failures
            ],
            "batches": self.batches,
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "resubmitted": self.resubmitted,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def merge_counts(*counters: Mapping[str, int]) -> dict[str, int]:
    """Sum status counts."""
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return dict(total)
