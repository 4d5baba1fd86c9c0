"""What a :class:`TransferOrchestrator` is asked (requests) and answers (outcomes, report)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..models import ReqTransferElement, TransferStatus

__all__ = ("TransferOutcome", "TransferReport", "TransferRequest")


@attrs.define(frozen=True)
class TransferRequest:
    """One transfer task to create: its elements and an optional tag.

    Without a tag the orchestrator tags the task ``ita-<run>-<index>`` (the run id is unique
    per run), which lets it find the task again if the create's answer is lost (Tapis has no
    idempotency key). A caller's own tag should be unique too: only a task with the tag, the
    same elements and created after the attempt is adopted.
    """

    elements: Sequence[ReqTransferElement]
    tag: str | None = None


@attrs.define(frozen=True)
class TransferOutcome:
    """The final state of one requested transfer task.

    Attributes:
        index: position of the request in the input.
        uuid: the task's id (``None`` if it could not be created).
        tag: the tag the task carries.
        status: the task's final status (COMPLETED, FAILED, CANCELLED…), ``NOT_CREATED``,
            ``TIMED_OUT``, ``UNKNOWN`` (its status could not be read), or ``CANCELLED`` for a
            request that :meth:`TransferOrchestrator.cancel` stopped before it was created.
        error_message: the server's or our explanation.
        total_transfers / complete_transfers: the task's file counts (``None`` for an outcome
            read back from the journal).
        recovered: the create's answer was lost and the task was found again by its tag.
    """

    index: int
    uuid: str | None
    tag: str | None
    status: str
    error_message: str | None = None
    total_transfers: int | None = None
    complete_transfers: int | None = None
    recovered: bool = False

    @property
    def ok(self) -> bool:
        """Whether the task completed."""
        return self.status == TransferStatus.COMPLETED


@attrs.define
class TransferReport:
    """Every requested task with its final status.

    Attributes:
        outcomes: one per request, in input order.
        counts: final status -> number of tasks.
        requests: HTTP attempts made.
        elapsed_s: wall time.
    """

    run_id: str
    outcomes: list[TransferOutcome] = attrs.field(factory=list)
    counts: dict[str, int] = attrs.field(factory=dict)
    requests: int = 0
    throttled: int = 0
    elapsed_s: float = 0.0

    @property
    def failures(self) -> list[TransferOutcome]:
        """Tasks that did not complete."""
        return [o for o in self.outcomes if not o.ok]
