"""``TransferOrchestrator``: many Tapis transfer tasks created, followed and reported together."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio
import attrs

from .._client import TapisClient
from .._concurrency import PollState, gather_bounded, poll_until
from .._errors import APIConnectionError, APIStatusError, RequestValidationError, WaiterError
from ..models import ReqTransferElement, TransferStatus, TransferTask
from ._report import Progress, ProgressCallback

__all__ = ("TransferOrchestrator", "TransferOutcome", "TransferReport", "TransferRequest")

log = logging.getLogger("ica_tapis_async.orchestrator")

NOT_CREATED = "NOT_CREATED"
TIMED_OUT = "TIMED_OUT"


@attrs.define(frozen=True)
class TransferRequest:
    """One transfer task to create: its elements and an optional tag.

    Without a tag the orchestrator tags the task ``ita-<run>-<index>``, which lets it find the
    task again if the create's answer is lost (Tapis has no idempotency key).
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
        status: the task's final status (COMPLETED, FAILED, CANCELLED…), ``NOT_CREATED`` or
            ``TIMED_OUT``.
        error_message: the server's or our explanation.
        total_transfers / complete_transfers: the task's file counts.
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


class TransferOrchestrator:
    """Creates many Tapis transfer tasks concurrently and waits for all of them.

    Args:
        tapis: the client (its limiter and retry policy apply).
        max_in_flight: tasks being created or followed at once.
        poll_initial / poll_max: polling interval bounds while a task runs.
        poll_timeout: stop following one task after this many seconds (``TIMED_OUT``).
        run_id: prefix of the generated tags.

    Example:
        >>> orch = TransferOrchestrator(tapis)
        >>> report = await orch.run([TransferRequest([ReqTransferElement(src, dst)])])
        >>> report.counts
        {'COMPLETED': 1}
    """

    def __init__(
        self,
        tapis: TapisClient,
        *,
        max_in_flight: int = 16,
        poll_initial: float = 0.5,
        poll_max: float = 15.0,
        poll_timeout: float = 24 * 3600.0,
        run_id: str | None = None,
        progress: ProgressCallback | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise RequestValidationError("must be >= 1", field="max_in_flight")
        self.tapis = tapis
        self.max_in_flight = max_in_flight
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.poll_timeout = poll_timeout
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._sleep = sleep
        self.progress = progress
        self._outstanding: dict[str, int] = {}
        self._cancelled = anyio.Event()
        self._created = 0
        self._finished: dict[str, int] = {}
        self._base = (0, 0)

    async def run(self, requests: Iterable[TransferRequest]) -> TransferReport:
        """Create every task, wait until each is final, and report.

        Raises:
            RequestValidationError: a request without elements.
        """
        started = time.monotonic()
        base = (self.tapis.metrics.requests, self.tapis.metrics.throttled)
        self._base = base
        indexed = list(enumerate(requests))
        if not indexed:
            raise RequestValidationError("is empty: nothing to do", field="requests")
        for i, request in indexed:
            if not request.elements:
                raise RequestValidationError("has no elements", field=f"requests[{i}]")
        outcomes = await gather_bounded(self._one, indexed, limit=self.max_in_flight)
        report = TransferReport(self.run_id, list(outcomes))
        for outcome in outcomes:
            report.counts[outcome.status] = report.counts.get(outcome.status, 0) + 1
        report.requests = self.tapis.metrics.requests - base[0]
        report.throttled = self.tapis.metrics.throttled - base[1]
        report.elapsed_s = time.monotonic() - started
        return report

    async def cancel(self) -> int:
        """Cancel every task created by :meth:`run` that is not final yet; returns how many.

        :meth:`run` then reports them with the status the server gives them (CANCELLED).
        """
        self._cancelled.set()
        uuids = list(self._outstanding)
        for task_uuid in uuids:
            try:
                await self.tapis.transfers.cancel(task_uuid)
            except APIStatusError as exc:
                log.warning("could not cancel transfer %s: %s", task_uuid, exc)
        return len(uuids)

    def _emit(self) -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    kind="transfer",
                    submitted=self._created,
                    finished=dict(self._finished),
                    in_flight=len(self._outstanding),
                    requests=self.tapis.metrics.requests - self._base[0],
                    throttled=self.tapis.metrics.throttled - self._base[1],
                )
            )

    async def _one(self, indexed: tuple[int, TransferRequest]) -> TransferOutcome:
        outcome = await self._follow(indexed)
        self._finished[outcome.status] = self._finished.get(outcome.status, 0) + 1
        self._emit()
        return outcome

    async def _follow(self, indexed: tuple[int, TransferRequest]) -> TransferOutcome:
        index, request = indexed
        tag = request.tag or f"ita-{self.run_id}-{index:06d}"
        task, recovered, error = await self._create(request, tag)
        if task is None or task.uuid is None:
            return TransferOutcome(index, None, tag, NOT_CREATED, error)
        self._outstanding[task.uuid] = index
        self._created += 1
        self._emit()
        try:
            final = await self._wait(task.uuid)
        finally:
            self._outstanding.pop(task.uuid, None)
        if final is None:
            return TransferOutcome(
                index, task.uuid, tag, TIMED_OUT, "no final status in time", recovered=recovered
            )
        return TransferOutcome(
            index,
            task.uuid,
            tag,
            final.status or "UNKNOWN",
            final.error_message,
            final.total_transfers,
            final.complete_transfers,
            recovered,
        )

    async def _create(
        self, request: TransferRequest, tag: str, attempts: int = 3
    ) -> tuple[TransferTask | None, bool, str | None]:
        error: str | None = None
        for attempt in range(attempts):
            if attempt:
                found = await self._find_by_tag(tag)
                if found is not None:
                    return found, True, None
            try:
                task = await self.tapis.transfers.create(list(request.elements), tag=tag)
                return task, False, None
            except (APIConnectionError, APIStatusError) as exc:
                error = str(exc)
                if isinstance(exc, APIStatusError) and exc.status < 500 and exc.status != 429:
                    return None, False, error
                await self._sleep(min(self.poll_max, self.poll_initial * 2**attempt))
        return None, False, error

    async def _find_by_tag(self, tag: str) -> TransferTask | None:
        # The newest tasks come first; a lost create is among the most recent ones.
        page = await self.tapis.transfers.list_recent(page_size=100)
        return next((t for t in page.items if t.tag == tag), None)

    async def _wait(self, task_uuid: str) -> TransferTask | None:
        async def sleep(delay: float) -> None:
            # cancel() wakes every follower at once, so cancelled tasks are read back promptly.
            with anyio.move_on_after(delay):
                await self._cancelled.wait()

        try:
            return await poll_until(
                lambda: self.tapis.transfers.get(task_uuid, include_summary=True),
                lambda task: (
                    PollState.SUCCESS if task.status in TransferStatus.FINAL else PollState.PENDING
                ),
                name=f"transfer task {task_uuid}",
                initial_delay=self.poll_initial,
                max_delay=max(self.poll_initial, self.poll_max),
                deadline=self.poll_timeout,
                changed=lambda a, b: (
                    (a.status, a.complete_transfers) != (b.status, b.complete_transfers)
                ),
                sleep=sleep,
            )
        except WaiterError:
            return None  # no final status within poll_timeout: reported TIMED_OUT
