"""What :func:`~ica_tapis_async.orchestrator.verify_run` reports: every discrepancy between a
run's journal and the server, and the counts of both sides."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

import attrs

__all__ = ("PROBLEMS", "Discrepancy", "VerifyReport")

#: The discrepancy kinds, in the order a summary lists them.
PROBLEMS: Final = (
    "status",
    "analysis",
    "not_on_server",
    "not_in_journal",
    "in_two_batches",
    "repeated",
    "tag",
    "batch_not_found",
    "unfinished",
)


@attrs.frozen(kw_only=True)
class Discrepancy:
    """One disagreement between the journal and the server.

    Attributes:
        problem: what disagrees: ``status`` (the server reports another status than the
            journal), ``analysis`` (another created analysis or item id), ``not_on_server``
            (the journal has an outcome the server's batch does not hold), ``not_in_journal``
            (the server's batch holds an item the journal has no outcome for),
            ``in_two_batches`` (one key in two batches, or one batch or task recorded for two
            chunks), ``repeated`` (the server's batch, or the journal's chunk, holds the key
            more than once),
            ``tag`` (the server's transfer task carries another tag than recorded),
            ``batch_not_found`` (the server does not know the recorded batch or task),
            ``unfinished`` (the journal has no final outcomes for the chunk, or no entry:
            one it lost, or the rest of an unfinished run's input, never claimed).
        key: the data id, user reference or task tag (``None`` for a whole chunk).
        chunk: the chunk (journal entry) index.
        batch_id: the server's batch id or task uuid, if recorded.
        journal / server: what each side says (a status, an id), if anything.
        detail: one sentence for people.
    """

    problem: str
    key: str | None
    chunk: int | None
    batch_id: str | None
    journal: str | None
    server: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return attrs.asdict(self)


@attrs.define
class VerifyReport:
    """What :func:`verify_run` found.

    Attributes:
        run_id / kind / project_id: the run, as recorded.
        chunks: journal entries (batches or transfer requests) of the run.
        batches_read: batches or tasks read back from the server.
        never_sent: items of finished chunks that have no batch or task on the server (refused
            or not submitted): the journal's word stands, there is nothing to read.
        items: journal outcomes compared with the server.
        journal_counts: journal outcome status -> items.
        server_counts: status the server reports -> items (of the batches read).
        discrepancies: every disagreement, by chunk.
        requests: HTTP attempts the verification made.
    """

    run_id: str
    kind: str
    project_id: str
    chunks: int = 0
    batches_read: int = 0
    never_sent: int = 0
    items: int = 0
    journal_counts: dict[str, int] = attrs.field(factory=dict)
    server_counts: dict[str, int] = attrs.field(factory=dict)
    discrepancies: list[Discrepancy] = attrs.field(factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        """Whether the server and the journal agree on every item."""
        return not self.discrepancies

    def by_problem(self) -> dict[str, int]:
        """Discrepancies per kind, in :data:`PROBLEMS` order."""
        counts = Counter(d.problem for d in self.discrepancies)
        return {p: counts[p] for p in PROBLEMS if counts[p]}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready report with every discrepancy."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "project_id": self.project_id,
            "ok": self.ok,
            "chunks": self.chunks,
            "batches_read": self.batches_read,
            "never_sent": self.never_sent,
            "items": self.items,
            "journal_counts": dict(sorted(self.journal_counts.items())),
            "server_counts": dict(sorted(self.server_counts.items())),
            "problems": self.by_problem(),
            "discrepancies": [d.to_dict() for d in self.discrepancies],
            "requests": self.requests,
        }
