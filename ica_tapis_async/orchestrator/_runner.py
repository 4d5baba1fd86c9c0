"""``BatchOrchestrator``: chunk, submit, poll and report linking, update and analysis batches."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from .._client import IcaClient
from .._concurrency import single_failure
from .._errors import RequestValidationError
from ..models import DataUpdateGroup
from ._chunk import ChunkWorker
from ._fleet import Fleet, FleetJournal, running
from ._input_end import InputDigest, chunks_of, input_fingerprint
from ._journal_open import open_journal
from ._journal_protocol import SENDING, SUBMITTED, Journal, digest_mismatch
from ._journal_sqlite import SqliteJournal
from ._lease import Slot, record_input_end
from ._outcomes import IN_DOUBT, NOT_SUBMITTED, chunk_outcomes
from ._plan import (
    AnalysisRequest,
    Chunk,
    Kind,
    check_batch_size,
    check_journal_spec,
    check_positive,
    check_run_id,
    prevalidate,
)
from ._poll import ItemPoller
from ._report import BatchReport, ItemOutcome, ProgressCallback
from ._run_state import Counters, Gate, forget, forget_past, one_mismatch
from ._send import Sender

__all__ = ("BatchOrchestrator",)

log = logging.getLogger("ica_tapis_async.orchestrator")


class BatchOrchestrator:
    """Runs many linking, update or analysis-creation batches to completion, exactly once.

    The input is consumed lazily and split into chunks (batches); at most
    ``max_inflight_batches`` chunks are submitted or polled at a time, so memory is bounded by
    ``batch_size x max_inflight_batches`` whatever the input's length (in a cooperative run,
    plus the chunks other workers hold, which are waited for without taking a slot). Every
    request goes through the client's rate limiter and retry policy. Each chunk has a
    deterministic key (run id + chunk index + body hash): sent as ``Idempotency-Key`` for
    analysis batches, and recorded in the journal for all kinds so that a killed job resumes
    without sending a finished chunk again.

    Args:
        ica: the client (its rate limit and retry policy apply to every call).
        project_id: the project all batches go to.
        batch_size: items per batch; default per kind (link 1,000, update 1,000 data ids,
            analysis 100); capped at link 25,000, update 5,000 (the spec's advice), analysis
            1,000.
        max_batch_size: raise (or lower) that cap deliberately, e.g. for V4 linking batches
            over 25,000 (the spec gives 25,000 as advice for V3); update batches stay under the
            server's hard limit of 100,000.
        max_inflight_batches: chunks submitted and being polled at once.
        journal: a path (SQLite file) or a :class:`Journal`, to resume after a crash.
        progress: called with a :class:`Progress` snapshot on every change.
        run_id: names the run; with a journal and no run id, the latest run of the same kind,
            project and batch size in the journal is resumed (or, finished, replayed). A run
            of that kind and project recorded with another batch size is refused
            (:class:`JournalMismatchError` naming it and its batch size) rather than shadowed
            by a new run; a new run id starts a new run deliberately.
        poll_initial / poll_max: the polling interval starts at ``poll_initial`` seconds and
            grows while nothing changes, up to ``poll_max``.
        poll_timeout: give up waiting for one batch after this many seconds (its items are
            reported ``UNKNOWN``; a later run with the journal picks the batch up again), and
            stop waiting out 409 "still in progress" answers (items ``IN_DOUBT``).
        lease_ttl: seconds a chunk's lease lasts without a heartbeat. Several processes may
            share one journal: each chunk is sent by one of them, and a dead process's chunks
            are taken over after at most ``lease_ttl``.
        key_lifetime: how long the server remembers an Idempotency-Key (7 days, less a
            margin). An analysis chunk whose answer was lost longer ago is reported
            ``IN_DOUBT`` instead of being sent again, unless ``resend_in_doubt``.
        resend_in_doubt: send such chunks again anyway (the caller checked the server).
        orphan_window: how long the server may still take to process an update batch whose
            create's answer was lost (update batches have no Idempotency-Key, so the chunk
            was sent again and that first batch, the orphan, is invisible). A later chunk
            updating one of its data ids is sent only this many seconds after the chunk
            settled, so that it is applied after the orphan; 0 turns the wait off.

    Example::

        async with BatchOrchestrator(ica, project_id, journal="link.sqlite") as orch:
            report = await orch.link(data_ids)
        report.counts
        # -> {'LINKED': 19990, 'ALREADY_LINKED': 8, 'FAILED': 2}
    """

    def __init__(
        self,
        ica: IcaClient,
        project_id: str,
        *,
        batch_size: int | None = None,
        max_batch_size: int | None = None,
        max_inflight_batches: int = 8,
        journal: str | Path | Journal | None = None,
        progress: ProgressCallback | None = None,
        run_id: str | None = None,
        poll_initial: float = 0.5,
        poll_max: float = 10.0,
        poll_timeout: float = 6 * 3600.0,
        lease_ttl: float = 30.0,
        key_lifetime: float = 7 * 86400.0 - 6 * 3600.0,
        resend_in_doubt: bool = False,
        orphan_window: float = 300.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(project_id, str) or not project_id:
            raise RequestValidationError("must be a non-empty string", field="project_id")
        if max_inflight_batches < 1:
            raise RequestValidationError("must be >= 1", field="max_inflight_batches")
        if run_id is not None:
            check_run_id(run_id)
        check_positive("lease_ttl", lease_ttl)
        check_positive("key_lifetime", key_lifetime)
        check_journal_spec(journal)
        self.ica = ica
        self.project_id = project_id
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size
        self.max_inflight_batches = max_inflight_batches
        self.journal: Journal
        self.journal, self._owns_journal = open_journal(journal)
        self.progress = progress
        self.run_id = run_id
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.poll_timeout = poll_timeout
        self.lease_ttl = float(lease_ttl)
        self.key_lifetime = float(key_lifetime)
        self.resend_in_doubt = resend_in_doubt
        zero = orphan_window == 0 and not isinstance(orphan_window, bool)  # 0: no wait
        self.orphan_window = 0.0 if zero else check_positive("orphan_window", orphan_window)
        self._sleep = sleep
        self._clock = clock
        # One owner name per orchestrator: its leases are its own, even within one process.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # -- public API ---------------------------------------------------------------------------

    async def link(self, data_ids: Iterable[str] | AsyncIterable[str]) -> BatchReport:
        """Link every data id into the project; returns the report.

        A data id repeated within one batch is sent once and its repeat reported as
        ``DUPLICATE`` (with the id's own status when that is not ok); repeated in another
        batch, the server reports it ``ALREADY_LINKED``.

        Raises:
            RequestValidationError: empty input, a malformed or over-long id, a bad batch size
                (for an in-memory sequence, before anything is sent).
        """
        return await self._report("link", data_ids)

    async def update(
        self, groups: Iterable[DataUpdateGroup] | AsyncIterable[DataUpdateGroup]
    ) -> BatchReport:
        """Apply update groups (tags, archive/delete dates); one outcome per data id."""
        return await self._report("update", groups)

    async def create_analyses(
        self, items: Iterable[AnalysisRequest] | AsyncIterable[AnalysisRequest]
    ) -> BatchReport:
        """Create one analysis per request, exactly once even across crashes and lost answers.

        Raises:
            RequestValidationError: a repeated user reference, or another bad request.
            JournalMismatchError: the journal's run was recorded with other input.
        """
        return await self._report("analysis", items)

    def stream_link(
        self, data_ids: Iterable[str] | AsyncIterable[str]
    ) -> AbstractAsyncContextManager[AsyncIterator[ItemOutcome]]:
        """Like :meth:`link`, yielding each :class:`ItemOutcome` as its batch finishes.

        Example::

            async with orch.stream_link(ids) as outcomes:
                async for outcome in outcomes:
                    print(outcome.key, outcome.status)
        """
        return self._stream("link", data_ids)

    def stream_update(
        self, groups: Iterable[DataUpdateGroup] | AsyncIterable[DataUpdateGroup]
    ) -> AbstractAsyncContextManager[AsyncIterator[ItemOutcome]]:
        """Like :meth:`update`, yielding outcomes as batches finish."""
        return self._stream("update", groups)

    def stream_create_analyses(
        self, items: Iterable[AnalysisRequest] | AsyncIterable[AnalysisRequest]
    ) -> AbstractAsyncContextManager[AsyncIterator[ItemOutcome]]:
        """Like :meth:`create_analyses`, yielding outcomes as batches finish."""
        return self._stream("analysis", items)

    def close(self) -> None:
        """Close a SQLite journal the orchestrator opened (from a path); ``async with`` closes
        any journal it opened."""
        if self._owns_journal and isinstance(self.journal, SqliteJournal):
            self.journal.close()

    async def aclose(self) -> None:
        """Close the journal if the orchestrator opened it (from a path or database URL)."""
        if self._owns_journal:
            await self.journal.aclose()

    async def __aenter__(self) -> BatchOrchestrator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the run ------------------------------------------------------------------------------

    async def _report(self, kind: Kind, items: Any) -> BatchReport:
        started = time.monotonic()
        metrics = self.ica.metrics
        base = (metrics.requests, metrics.retries, metrics.throttled)
        report = BatchReport(run_id="", kind=kind)
        counters = Counters(kind, self.ica, self.progress)
        async with self._stream(kind, items, counters) as outcomes:
            async for outcome in outcomes:
                report.add(outcome)
        report.run_id = counters.run_id
        report.batches = counters.batches
        report.requests = metrics.requests - base[0]
        report.retries = metrics.retries - base[1]
        report.throttled = metrics.throttled - base[2]
        report.elapsed_s = time.monotonic() - started
        return report

    @asynccontextmanager
    async def _stream(
        self, kind: Kind, items: Any, counters: Counters | None = None
    ) -> AsyncIterator[AsyncIterator[ItemOutcome]]:
        size = check_batch_size(kind, self.batch_size, self.max_batch_size)
        prevalidate(kind, items)
        # The run's options in words: a journal's refusal quotes them ("recorded with
        # batch_size=100"), so the caller reads what to pass to replay the run.
        run = await self.journal.open_run(kind, self.project_id, self.run_id, f"batch_size={size}")
        counters = counters or Counters(kind, self.ica, self.progress)
        counters.run_id = run.run_id
        worker = self._worker(run.run_id, counters, size)
        send, receive = anyio.create_memory_object_stream[ItemOutcome](max_buffer_size=size)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._produce, kind, worker, items, size, send, counters)
                async with receive:
                    yield receive
                tg.cancel_scope.cancel()  # the consumer left early: stop the work
        except BaseExceptionGroup as group:
            # One failure (bad lazy input, a 422, a journal mismatch), or the same failure in
            # every chunk at once (a 401), reaches the caller as itself; mixed ones stay a group.
            # Chunks refused as other input (reordered input meets one per chunk) are one
            # refusal of the input: `except JournalMismatchError` must catch it.
            single = single_failure(group) or one_mismatch(group)
            if single is None:
                raise
            raise single from None

    def _worker(self, run_id: str, counters: Counters, size: int) -> ChunkWorker:
        timing = {
            "poll_initial": self.poll_initial,
            "poll_max": self.poll_max,
            "poll_timeout": self.poll_timeout,
            "sleep": self._sleep,
            "clock": self._clock,
        }

        def on_active(delta: int) -> None:
            counters.in_flight += delta
            counters.emit()

        return ChunkWorker(
            journal=self.journal,
            run_id=run_id,
            owner=self.owner,
            sender=Sender(self.ica, self.project_id, max_links=size, **timing),  # type: ignore[arg-type]
            poller=ItemPoller(self.ica, self.project_id, **timing),  # type: ignore[arg-type]
            lease_ttl=self.lease_ttl,
            key_lifetime=self.key_lifetime,
            resend_in_doubt=self.resend_in_doubt,
            on_active=on_active,
            fleet=Fleet(self.journal, run_id, self.owner, self.lease_ttl)
            if isinstance(self.journal, FleetJournal)
            else None,
        )

    async def _produce(
        self,
        kind: Kind,
        worker: ChunkWorker,
        items: Any,
        size: int,
        send: MemoryObjectSendStream[ItemOutcome],
        counters: Counters,
    ) -> None:
        chunks: AsyncIterator[Chunk] = chunks_of(kind)(items, size)
        slots = anyio.Semaphore(self.max_inflight_batches)
        # Updates of one data id must reach the server in the caller's order: a chunk waits for
        # every earlier chunk touching one of its ids (chunks in flight, and unfinished ones).
        touching: dict[str, Gate] = {}
        # Finished chunks kept in `touching` until their orphan's window has passed.
        lingering: deque[tuple[Gate, Sequence[str]]] = deque()
        # The chunks the run has recorded: other input is refused at the first chunk that
        # differs, before any chunk after it starts. Each chunk's claim checks too, but by
        # then the chunks started after it may have recorded this input's digests where the
        # run had none yet, and the run's own input would be refused from then on.
        recorded = {r.index: r.digest for r in await self.journal.chunks(worker.run_id)}
        # The send stream stays open until the run is recorded finished: the consumer sees the
        # end of the outcomes only then, so it never cancels finish_run midway.
        async with send:
            whole = await input_fingerprint(kind, items, size)
            if whole is not None:
                # Recorded before anything is sent: a worker with other input under this run
                # id (longer, shorter, or other items in chunks not sent yet) is refused, not
                # the correct ones (recorded again, a no-op, below).
                await record_input_end(
                    self.journal, worker.run_id, whole.count, self.owner, self.lease_ttl,
                    whole.hexdigest(),
                )  # fmt: skip
            folded = InputDigest()
            # The run's span is current while the chunk tasks start, so each inherits it.
            with self.ica.telemetry.run(kind, worker.run_id) as run:
                async with running(worker.fleet), anyio.create_task_group() as tg:
                    count = 0
                    async for chunk in chunks:
                        digest = recorded.get(chunk.index, chunk.digest)
                        if digest != chunk.digest:
                            raise digest_mismatch(
                                worker.run_id, kind, chunk.index, digest, chunk.digest
                            )
                        await slots.acquire()  # pull no more input than the in-flight window
                        count = chunk.index + 1
                        folded.add(chunk)
                        gate = Gate()
                        after: set[Gate] = set()
                        if kind == "update":
                            forget_past(lingering, touching, self._clock())
                            after = {touching[k] for k in chunk.keys if k in touching}
                            touching.update(dict.fromkeys(chunk.keys, gate))
                        tg.start_soon(
                            self._run_chunk, kind, worker, chunk, send.clone(), counters, slots,
                            (gate, after, touching, lingering),
                        )  # fmt: skip
                    # Where this input ends: a longer or shorter one under the run id is refused.
                    await record_input_end(
                        self.journal, worker.run_id, count, self.owner, self.lease_ttl,
                        folded.hexdigest(),
                    )  # fmt: skip
                run.counts(counters.finished)
            if worker.refused is not None and not counters.accepted:
                # Refused from the start (bad credentials): nothing to report but the error.
                raise worker.refused
            if counters.all_final:
                await self.journal.finish_run(worker.run_id)

    async def _run_chunk(
        self,
        kind: Kind,
        worker: ChunkWorker,
        chunk: Chunk,
        send: MemoryObjectSendStream[ItemOutcome],
        counters: Counters,
        slots: anyio.Semaphore,
        order: tuple[Gate, set[Gate], dict[str, Gate], deque[tuple[Gate, Sequence[str]]]],
    ) -> None:
        gate, after, touching, lingering = order
        final = False
        slot = Slot(slots)
        try:
            async with send:
                size = len(chunk.keys) + len(chunk.duplicates)
                counters.submitted += size
                with self.ica.telemetry.chunk(kind, worker.run_id, chunk.index, size) as scope:
                    outcomes, final = await self._chunk_outcomes(kind, worker, chunk, after, slot)
                    scope.finished(_count(outcomes), state="done" if final else "incomplete")
                # Failures carry their input item, so a report says what to fix or resend.
                outcomes = [
                    o if o.ok else attrs.evolve(o, request=chunk.request_of(o.key))
                    for o in outcomes
                ]
                if kind == "update" and any(o.resubmitted for o in outcomes):
                    # Sent more than once: an orphan batch may still be queued on the server.
                    gate.not_before = self._clock() + self.orphan_window
                counters.batches += 1
                counters.all_final = counters.all_final and final
                for outcome in outcomes:
                    counters.finished[outcome.status] = counters.finished.get(outcome.status, 0) + 1
                # The server answered for this chunk: a final outcome, or a batch it created.
                counters.accepted += final or any(o.batch_id for o in outcomes)
                counters.emit()
                for outcome in outcomes:
                    await send.send(outcome)
        finally:
            gate.final = final
            gate.event.set()
            # An unfinished chunk stays remembered: a later update of one of its ids must not
            # be sent before it, however long after it left the in-flight window. So does one
            # whose orphan may still be queued: a later update read from the input after this
            # chunk settled must wait out the orphan's window too.
            if final and gate.not_before > self._clock():
                lingering.append((gate, chunk.keys))
            elif final:
                forget(gate, chunk.keys, touching)
            slot.release()

    async def _chunk_outcomes(
        self,
        kind: Kind,
        worker: ChunkWorker,
        chunk: Chunk,
        after: set[Gate],
        slot: Slot,
    ) -> tuple[list[ItemOutcome], bool]:
        for earlier in after:
            await earlier.event.wait()
        if worker.refused is not None:
            info = (
                f"not sent: the server refused the run's credentials ({worker.refused}); run "
                "again with new ones and the journal"
            )
        elif all(earlier.final for earlier in after):
            # After its orphan's processing window: only then is this update applied last.
            wait = max((earlier.not_before for earlier in after), default=0.0) - self._clock()
            if wait > 0 and await self._will_send(worker.run_id, chunk.index):
                await self._sleep(wait)
            return await worker.run(kind, chunk, slot)
        else:
            info = (
                "not sent: an earlier update of one of its data ids did not finish, and "
                "updates of one data id are applied in input order; run again with the journal"
            )
        record = await self.journal.get_chunk(worker.run_id, chunk.index)
        if record is not None and record.final:
            return await self.journal.outcomes(worker.run_id, chunk.index), True
        # A killed run may have sent it already: then its fate is unknown, not "unsent".
        sent = record is not None and record.state in (SENDING, SUBMITTED)
        status = IN_DOUBT if sent else NOT_SUBMITTED
        resubmitted = record is not None and record.resubmitted
        return chunk_outcomes(kind, chunk, status, info, resubmitted=resubmitted), False

    async def _will_send(self, run_id: str, index: int) -> bool:
        """Whether the chunk may still be sent: not when the journal has it done (a replay)
        or created (a resumed run polls its batch), so no orphan's window is waited out."""
        record = await self.journal.get_chunk(run_id, index)
        if record is None:
            return True
        return not (record.final or (record.state == SUBMITTED and record.batch_id))


def _count(outcomes: Iterable[ItemOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts
