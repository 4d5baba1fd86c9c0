"""``TransferOrchestrator``: many Tapis transfer tasks created, followed and reported together."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import anyio

from .._client import TapisClient
from .._concurrency import single_failure
from .._converter import dumps
from .._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    RequestValidationError,
    ResponseValidationError,
)
from .._telemetry import TaskScope
from ..models import TransferStatus
from ._journal_memory import MemoryJournal
from ._journal_open import open_journal
from ._journal_protocol import (
    SENDING,
    SUBMITTED,
    ChunkRecord,
    Journal,
    LeaseLostError,
    digest_mismatch,
)
from ._lease import Held, Slot, record_input_end, renew_before_send, run_leased
from ._plan import check_journal_spec, check_positive, check_run_id
from ._report import ItemOutcome, Progress, ProgressCallback
from ._run_state import one_mismatch
from ._transfer_models import TransferOutcome, TransferReport, TransferRequest
from ._transfer_task import NOT_CREATED, TIMED_OUT, UNKNOWN, Created, TaskFollower

__all__ = ("TransferOrchestrator", "TransferOutcome", "TransferReport", "TransferRequest")

log = logging.getLogger("ica_tapis_async.orchestrator")


class TransferOrchestrator:
    """Creates many Tapis transfer tasks concurrently and waits for all of them.

    With a journal, a killed run resumes without creating a task twice: each request is an
    entry of the journal (the same :class:`Journal` as batches: leases, first-sent times), its
    task's uuid is recorded as soon as it is known, and a create whose answer was lost is
    recovered by its tag. A 401 (credentials refused, no way to renew) creates nothing more:
    the report says what was done, the requests not created yet are ``NOT_CREATED`` and the
    tasks being followed ``UNKNOWN``; a run with new credentials and the journal does the rest.
    A server that cannot be reached is ``NOT_CREATED`` ("cannot reach ..."), never ``UNKNOWN``.

    Args:
        tapis: the client (its limiter and retry policy apply).
        max_in_flight: tasks being created or followed at once.
        poll_initial / poll_max: polling interval bounds while a task runs.
        poll_timeout: stop following one task after this many seconds (``TIMED_OUT``).
        run_id: names the run (1-64 printable ASCII characters) and prefixes generated tags;
            with a journal and no run id, the latest transfer run in the journal is resumed.
        journal: a path (SQLite file) or a :class:`Journal`, to resume after a crash.
        lease_ttl: seconds a request's lease lasts without a heartbeat (see
            :class:`BatchOrchestrator`).
        recovery_skew_s: after a lost answer, a task found by its tag is adopted only if the
            server created it at most this many seconds before our first attempt (the two
            clocks may differ), and with the same elements.
        sleep / clock: how the orchestrator waits and measures time (monotonic); the lease
            renewal before each create is timed on ``clock``.

    Example::

        orch = TransferOrchestrator(tapis, journal="transfers.sqlite")
        report = await orch.run([TransferRequest([ReqTransferElement(src, dst)])])
        report.counts
        # -> {'COMPLETED': 1}
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
        journal: str | Path | Journal | None = None,
        lease_ttl: float = 30.0,
        recovery_skew_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1:
            raise RequestValidationError("must be >= 1", field="max_in_flight")
        if run_id is not None:
            check_run_id(run_id)
        check_positive("lease_ttl", lease_ttl)
        check_journal_spec(journal)
        if isinstance(recovery_skew_s, bool) or not isinstance(recovery_skew_s, int | float):
            raise RequestValidationError("must be a number of seconds", field="recovery_skew_s")
        self.tapis = tapis
        self.max_in_flight = max_in_flight
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.poll_timeout = poll_timeout
        self._given_run_id = run_id
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._journal: Journal | None = None
        self._owns_journal = False
        if journal is not None:
            self._journal, self._owns_journal = open_journal(journal)
        self.lease_ttl = lease_ttl
        self.recovery_skew_s = recovery_skew_s
        self._sleep = sleep
        self._clock = clock
        self.progress = progress
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._outstanding: dict[str, int] = {}
        self._cancelled = anyio.Event()
        self._created = 0
        self._finished: dict[str, int] = {}
        self._base = (0, 0)

    async def run(self, requests: Iterable[TransferRequest]) -> TransferReport:
        """Create every task, wait until each is final, and report.

        Raises:
            RequestValidationError: a request without elements; a journal holding this run
                with other requests.
            AuthenticationError: the token was refused before the server answered anything
                else (bad credentials from the start).
        """
        started = time.monotonic()
        base = (self.tapis.metrics.requests, self.tapis.metrics.throttled)
        self._base = base
        self._refusals: set[int] = set()
        indexed = list(enumerate(requests))
        if not indexed:
            raise RequestValidationError("is empty: nothing to do", field="requests")
        for i, request in indexed:
            if not request.elements:
                raise RequestValidationError("has no elements", field=f"requests[{i}]")
        journal = self._journal
        run_id = self.run_id
        if journal is None:
            # Without a journal every call is a run of its own (unique generated tags).
            journal = MemoryJournal(keep_outcomes=False)
            run_id = f"{self.run_id}.{uuid.uuid4().hex[:6]}" if self._given_run_id else run_id
            run_id = (await journal.open_run("transfer", "", run_id, "t")).run_id
        else:
            fingerprint = hashlib.sha256(b"transfer").hexdigest()[:32]
            run = await journal.open_run("transfer", "", self._given_run_id, fingerprint)
            run_id = self.run_id = run.run_id
        follower = TaskFollower(
            self.tapis, self.poll_initial, self.poll_max, self.poll_timeout, self._sleep,
            self._cancelled, self.recovery_skew_s,
        )  # fmt: skip

        # Where the input ends, before anything is created: a longer or shorter input under
        # the run id is refused.
        await record_input_end(journal, run_id, len(indexed), self.owner, self.lease_ttl)
        # Other input is refused before anything starts: entries claimed meanwhile would record
        # (and create) its requests where the run had none yet, and then refuse the run's own.
        recorded = {r.index: r.digest for r in await journal.chunks(run_id)}
        for index, request in indexed:
            digest = _identity(run_id, index, request)[1]
            if recorded.get(index, digest) != digest:
                raise digest_mismatch(run_id, "transfer", index, recorded[index], digest)
        found: dict[int, TransferOutcome] = {}
        slots = anyio.Semaphore(self.max_in_flight)

        async def one(pair: tuple[int, TransferRequest]) -> None:
            slot = Slot(slots)
            try:
                found[pair[0]] = await self._one(journal, run_id, follower, pair, slot.release)
            finally:
                slot.release()

        # The run's span is current while the task workers start, so each task's span (and
        # every request under it) belongs to the run's trace.
        with self.tapis.telemetry.run("transfer", run_id) as scope:
            try:
                async with anyio.create_task_group() as tg:
                    for pair in indexed:
                        await slots.acquire()
                        tg.start_soon(one, pair)
            except BaseExceptionGroup as group:
                auth = group.subgroup(AuthenticationError)
                if auth is not None:
                    raise _first(auth) from None
                # Entries refused as other input at once (another worker's) are one refusal.
                single = single_failure(group) or one_mismatch(group)
                if single is None:
                    raise
                raise single from None
            outcomes = [found[i] for i in range(len(indexed))]
            report = TransferReport(run_id, list(outcomes))
            for outcome in outcomes:
                report.counts[outcome.status] = report.counts.get(outcome.status, 0) + 1
            scope.counts(report.counts)
            if follower.refused is not None and len(self._refusals) == len(indexed):
                # Refused from the start (bad credentials): nothing to report but the error
                # (a request a killed run sent stays in the journal, for a run that can look).
                raise follower.refused
        if all(_final(o) for o in outcomes):
            await journal.finish_run(run_id)
        report.requests = self.tapis.metrics.requests - base[0]
        report.throttled = self.tapis.metrics.throttled - base[1]
        report.elapsed_s = time.monotonic() - started
        return report

    async def cancel(self) -> int:
        """Cancel every task created by :meth:`run` that is not final yet; returns how many.

        Requests not created yet are not created (reported ``CANCELLED`` without a uuid; a
        journal keeps them resumable); a task whose create is under way is cancelled as soon
        as its uuid is known. In a resumed run, a request a killed run had sent is first looked
        for by its tag: its task is cancelled, and if the look-up fails it is ``UNKNOWN``.
        :meth:`run` reports tasks with the status the server gives them.
        """
        self._cancelled.set()
        uuids = list(self._outstanding)
        for task_uuid in uuids:
            await self._cancel_task(task_uuid)
        return len(uuids)

    async def aclose(self) -> None:
        """Close the journal if the orchestrator opened it (from a path)."""
        if self._owns_journal and self._journal is not None:
            await self._journal.aclose()

    async def _cancel_task(self, task_uuid: str) -> None:
        try:
            await self.tapis.transfers.cancel(task_uuid)
        except (APIStatusError, APIConnectionError, ResponseValidationError) as exc:
            # An answer that is no confirmation (a proxy's page) is no reason to leave the
            # other tasks running: the report shows what each task became.
            log.warning("could not cancel transfer %s: %s", task_uuid, exc)

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

    async def _one(
        self, journal: Journal, run_id: str, follower: TaskFollower,
        indexed: tuple[int, TransferRequest], on_wait: Callable[[], None],
    ) -> TransferOutcome:  # fmt: skip
        index, request = indexed
        tag, digest = _identity(run_id, index, request)
        outcome: list[TransferOutcome] = []
        with self.tapis.telemetry.task("transfer", run_id, index) as scope:

            async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
                result = await self._follow(
                    journal, follower, index, request, tag, record, held, scope
                )
                outcome.append(result)
                return [_to_item(result)], _final(result)

            items, _ = await run_leased(
                journal, run_id, index, key=tag, digest=digest, owner=self.owner,
                ttl_s=self.lease_ttl, work=work, on_wait=on_wait,
            )  # fmt: skip
            result = outcome[0] if outcome else _from_item(index, items[0])
            if not outcome and result.uuid is not None:
                scope.created(result.uuid, resumed=True)  # settled by an earlier run
            scope.finished(
                result.status, transfers=result.total_transfers, complete=result.complete_transfers
            )
        self._finished[result.status] = self._finished.get(result.status, 0) + 1
        self._emit()
        return result

    async def _follow(
        self, journal: Journal, follower: TaskFollower, index: int, request: TransferRequest,
        tag: str, record: ChunkRecord, held: Held, scope: TaskScope,
    ) -> TransferOutcome:  # fmt: skip
        recovered = record.resubmitted
        if record.state == SUBMITTED and record.batch_id:
            task_uuid: str = record.batch_id
            scope.created(task_uuid, resumed=True)
        else:
            first = record.first_sent_at if record.state == SENDING else None
            if self._cancelled.is_set():
                # A killed run may have created the task: look for it (and cancel it below)
                # before calling the request cancelled before creation.
                created = (
                    Created(None)
                    if first is None
                    else await follower.look_up(request.elements, tag, first)
                )
                if created.uuid is None and not created.unknown:
                    return TransferOutcome(index, None, tag, CANCELLED, _BEFORE_CREATION)
            else:
                attempts = [0, 0]  # journal attempts recorded, renewals before a POST

                async def on_send() -> float | None:
                    sending = await journal.mark_sending(held.lease)
                    attempts[0] = sending.attempts
                    return sending.first_sent_at

                async def still_ours() -> None:
                    # Tapis has no idempotency key: only the lease stops a POST from a worker
                    # whose task was taken over while it waited (a Retry-After, a freeze).
                    attempts[1] += 1
                    await renew_before_send(journal, held, self.lease_ttl, self._clock)

                try:
                    created = await follower.create(
                        request.elements, tag, first_sent_at=first, on_send=on_send,
                        before_attempt=still_ours,
                    )  # fmt: skip
                except LeaseLostError as exc:
                    if attempts[1] > 1:
                        raise  # a POST left: whoever holds the request settles it
                    # Stopped before the first POST: take the attempt back (fenced: raises if
                    # the request was taken over). Still ours, the journal was only slow:
                    # claiming it again would spin for as long as it stays slow.
                    await journal.mark_unsent(held.lease, attempts[0])
                    status = NOT_CREATED if first is None else UNKNOWN
                    why = f"not created: {exc}; a longer lease_ttl gives a slow journal more time"
                    return TransferOutcome(index, None, tag, status, why)
            if created.cancelled:
                if created.unsent:
                    await _take_back(journal, held, created.unsent)
                return TransferOutcome(index, None, tag, CANCELLED, _BEFORE_CREATION)
            if created.uuid is None:
                # Not found, or not looked for: created or not, nobody can say yet.
                refused = created.final or (first is None and not created.unknown)
                status = NOT_CREATED if refused else UNKNOWN
                if created.unsent:
                    await _take_back(journal, held, created.unsent)
                if created.refused:
                    self._refusals.add(index)  # no answer but the 401 for this request
                return TransferOutcome(index, None, tag, status, created.error)
            task_uuid, recovered = created.uuid, created.recovered
            if recovered:
                await journal.mark_resubmitted(held.lease)
            await journal.mark_submitted(held.lease, task_uuid)
            scope.created(task_uuid, recovered=recovered)
        self._outstanding[task_uuid] = index
        self._created += 1
        self._emit()
        try:
            if self._cancelled.is_set():
                await self._cancel_task(task_uuid)  # created while cancel() was running
            final = await follower.wait(task_uuid)
        finally:
            self._outstanding.pop(task_uuid, None)
        if isinstance(final, str):
            info = (
                "no final status in time" if final == TIMED_OUT else "its status could not be read"
            )
            if final == UNKNOWN and follower.refused is not None:
                info += (
                    f": the server refused the run's credentials ({follower.refused}); run "
                    "again with new ones and the journal to follow it"
                )
            return TransferOutcome(index, task_uuid, tag, final, info, recovered=recovered)
        return TransferOutcome(
            index, task_uuid, tag, final.status or UNKNOWN, final.error_message,
            final.total_transfers, final.complete_transfers, recovered,
        )  # fmt: skip


CANCELLED = TransferStatus.CANCELLED
_BEFORE_CREATION = "cancelled before creation"


def _final(outcome: TransferOutcome) -> bool:
    """Whether the outcome is settled for good (the journal replays it): only a task's final
    status is. ``NOT_CREATED``, ``UNKNOWN`` and ``TIMED_OUT`` stay resumable, and so does a
    request cancelled before its task was created (as :meth:`TransferOrchestrator.cancel`
    promises: a later run creates it)."""
    if outcome.status == CANCELLED and outcome.uuid is None:
        return False
    return outcome.status in TransferStatus.FINAL


async def _take_back(journal: Journal, held: Held, count: int) -> None:
    """Take back the last ``count`` attempts of the journal entry: they never reached the
    server, so a later run must not take the request for sent (it would look for its tag)."""
    record = await journal.get_chunk(held.lease.run_id, held.lease.index)
    attempts = record.attempts if record is not None else 0
    for attempt in range(attempts, max(attempts - count, 0), -1):
        await journal.mark_unsent(held.lease, attempt)


def _to_item(outcome: TransferOutcome) -> ItemOutcome:
    return ItemOutcome(
        kind="transfer", key=outcome.tag or "", status=outcome.status, ok=outcome.ok,
        info=outcome.error_message, batch_id=outcome.uuid, chunk=outcome.index,
        resubmitted=outcome.recovered,
    )  # fmt: skip


def _from_item(index: int, item: ItemOutcome) -> TransferOutcome:
    return TransferOutcome(
        index, item.batch_id, item.key, item.status, item.info, recovered=item.resubmitted
    )


def _identity(run_id: str, index: int, request: TransferRequest) -> tuple[str, str]:
    """The request's tag and its journal digest (elements and tag)."""
    tag = request.tag or f"ita-{run_id}-{index:06d}"
    return tag, hashlib.sha256(dumps([list(request.elements), tag])).hexdigest()


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
