"""``BatchOrchestrator``: chunk, submit, poll and report linking, update and analysis batches."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from .._client import IcaClient
from .._concurrency import Backoff
from .._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    RequestValidationError,
)
from .._pagination import AsyncPaginator
from .._telemetry._runs import ChunkScope
from ..models import (
    AnalysisItemStatus,
    DataUpdateGroup,
    JobStatus,
    LinkingItemStatus,
    UpdateItemStatus,
)
from ._journal import DONE, SENDING, SUBMITTED, Journal, NullJournal, SqliteJournal
from ._plan import (
    AnalysisRequest,
    Chunk,
    Kind,
    check_batch_size,
    chunk_analyses,
    chunk_data_ids,
    chunk_key,
    chunk_update_groups,
    prevalidate,
)
from ._report import BatchReport, ItemOutcome, Progress, ProgressCallback
from ._views import ItemPageView, ItemView

__all__ = ("BatchOrchestrator",)

log = logging.getLogger("ica_tapis_async.orchestrator")

_OK: dict[Kind, frozenset[str]] = {
    "link": LinkingItemStatus.OK,
    "update": UpdateItemStatus.OK,
    "analysis": AnalysisItemStatus.OK,
}
_ALL: dict[Kind, frozenset[str]] = {
    "link": LinkingItemStatus.ALL,
    "update": UpdateItemStatus.ALL,
    "analysis": AnalysisItemStatus.ALL,
}
_FINAL: dict[Kind, frozenset[str]] = {
    "link": LinkingItemStatus.FINAL,
    "update": UpdateItemStatus.FINAL,
    "analysis": AnalysisItemStatus.FINAL,
}

#: The status most items of a healthy batch end in: counted rather than read.
_COMMON: dict[Kind, str] = {"link": LinkingItemStatus.LINKED, "update": UpdateItemStatus.UPDATED}

#: Statuses of our own, for items the server never reported on.
DUPLICATE, REJECTED, NOT_SUBMITTED, UNKNOWN, MISSING = (
    "DUPLICATE",
    "REJECTED",
    "NOT_SUBMITTED",
    "UNKNOWN",
    "MISSING",
)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def _count(outcomes: Iterable[ItemOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


class _Counters:
    """Running totals of one run, behind :class:`Progress`."""

    def __init__(self, kind: Kind, ica: IcaClient, callback: ProgressCallback | None) -> None:
        self.kind = kind
        self.run_id = ""
        self.submitted = 0
        self.finished: dict[str, int] = {}
        self.in_flight = 0
        self.batches = 0
        self._ica = ica
        self._base_requests = ica.metrics.requests
        self._base_throttled = ica.metrics.throttled
        self._callback = callback

    def emit(self) -> None:
        if self._callback is not None:
            self._callback(
                Progress(
                    kind=self.kind,
                    submitted=self.submitted,
                    finished=dict(self.finished),
                    in_flight=self.in_flight,
                    requests=self._ica.metrics.requests - self._base_requests,
                    throttled=self._ica.metrics.throttled - self._base_throttled,
                )
            )


class BatchOrchestrator:
    """Runs many linking, update or analysis-creation batches to completion, exactly once.

    The input is consumed lazily and split into chunks (batches); at most
    ``max_inflight_batches`` chunks are submitted or polled at a time, so memory is bounded by
    ``batch_size x max_inflight_batches`` whatever the input's length. Every request goes through
    the client's rate limiter and retry policy. Each chunk has a deterministic key
    (run id + chunk index + body hash): sent as ``Idempotency-Key`` for analysis batches, and
    recorded in the journal for all kinds so that a killed job resumes without sending a
    finished chunk again.

    Args:
        ica: the client (its rate limit and retry policy apply to every call).
        project_id: the project all batches go to.
        batch_size: items per batch; default per kind (link 1,000, update 1,000 data ids,
            analysis 100); limits: link 25,000, update 5,000 (the spec's advice), analysis 1,000.
        max_inflight_batches: chunks submitted and being polled at once.
        journal: a path (SQLite file) or a :class:`Journal`, to resume after a crash.
        progress: called with a :class:`Progress` snapshot on every change.
        run_id: names the run; with a journal and no run id, the latest run of the same kind
            and project in the journal is resumed.
        poll_initial / poll_max: the polling interval starts at ``poll_initial`` seconds and
            grows while nothing changes, up to ``poll_max``.
        poll_timeout: give up waiting for one batch after this many seconds (its items are
            reported ``UNKNOWN``; a later run with the journal picks the batch up again).

    Example:
        >>> async with BatchOrchestrator(ica, project_id, journal="link.sqlite") as orch:
        ...     report = await orch.link(data_ids)
        >>> report.counts
        {'LINKED': 19990, 'ALREADY_LINKED': 8, 'FAILED': 2}
    """

    def __init__(
        self,
        ica: IcaClient,
        project_id: str,
        *,
        batch_size: int | None = None,
        max_inflight_batches: int = 8,
        journal: str | Path | Journal | None = None,
        progress: ProgressCallback | None = None,
        run_id: str | None = None,
        poll_initial: float = 0.5,
        poll_max: float = 10.0,
        poll_timeout: float = 6 * 3600.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(project_id, str) or not project_id:
            raise RequestValidationError("must be a non-empty string", field="project_id")
        if max_inflight_batches < 1:
            raise RequestValidationError("must be >= 1", field="max_inflight_batches")
        if run_id is not None and (not run_id or len(run_id) > 64 or not run_id.isprintable()):
            raise RequestValidationError("must be 1-64 printable characters", field="run_id")
        self.ica = ica
        self.project_id = project_id
        self.batch_size = batch_size
        self.max_inflight_batches = max_inflight_batches
        self._owns_journal = isinstance(journal, str | Path)
        self.journal: Journal = (
            SqliteJournal(journal)
            if isinstance(journal, str | Path)
            else (journal if journal is not None else NullJournal())
        )
        self.progress = progress
        self.run_id = run_id
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.poll_timeout = poll_timeout
        self._sleep = sleep
        self._clock = clock

    # -- public API ---------------------------------------------------------------------------

    async def link(self, data_ids: Iterable[str] | AsyncIterable[str]) -> BatchReport:
        """Link every data id into the project; returns the report.

        A data id repeated within one batch is sent once and its repeat reported as
        ``DUPLICATE``; repeated in another batch, the server reports it ``ALREADY_LINKED``.

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
            IdempotencyConflictError: a chunk's key was already used with another body (the
                journal or run id belongs to another input).
        """
        return await self._report("analysis", items)

    def stream_link(
        self, data_ids: Iterable[str] | AsyncIterable[str]
    ) -> AbstractAsyncContextManager[AsyncIterator[ItemOutcome]]:
        """Like :meth:`link`, yielding each :class:`ItemOutcome` as its batch finishes.

        Example:
            >>> async with orch.stream_link(ids) as outcomes:
            ...     async for outcome in outcomes:
            ...         print(outcome.key, outcome.status)
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
        """Close the journal if the orchestrator opened it (from a path)."""
        if self._owns_journal:
            self.journal.close()

    async def __aenter__(self) -> BatchOrchestrator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # -- the run ------------------------------------------------------------------------------

    async def _report(self, kind: Kind, items: Any) -> BatchReport:
        started = time.monotonic()
        metrics = self.ica.metrics
        base = (metrics.requests, metrics.retries, metrics.throttled)
        report = BatchReport(run_id="", kind=kind)
        counters = _Counters(kind, self.ica, self.progress)
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
        self, kind: Kind, items: Any, counters: _Counters | None = None
    ) -> AsyncIterator[AsyncIterator[ItemOutcome]]:
        size = check_batch_size(kind, self.batch_size)
        prevalidate(kind, items)
        run_id = self.journal.open_run(kind, self.project_id, self.run_id)
        counters = counters or _Counters(kind, self.ica, self.progress)
        counters.run_id = run_id
        send, receive = anyio.create_memory_object_stream[ItemOutcome](max_buffer_size=size)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._produce, kind, run_id, items, size, send, counters)
                async with receive:
                    yield receive
                tg.cancel_scope.cancel()  # the consumer left early: stop the work
        except BaseExceptionGroup as group:
            # One failure (bad lazy input, a 422, a journal mismatch), or the same failure in
            # every chunk at once (a 401), reaches the caller as itself; mixed ones stay a group.
            leaves = _leaves(group)
            first = leaves[0] if leaves else None
            if isinstance(first, Exception) and all(type(e) is type(first) for e in leaves):
                raise first from None
            raise

    async def _produce(
        self,
        kind: Kind,
        run_id: str,
        items: Any,
        size: int,
        send: MemoryObjectSendStream[ItemOutcome],
        counters: _Counters,
    ) -> None:
        chunks: AsyncIterator[Chunk]
        if kind == "link":
            chunks = chunk_data_ids(items, size)
        elif kind == "update":
            chunks = chunk_update_groups(items, size)
        else:
            chunks = chunk_analyses(items, size)
        slots = anyio.Semaphore(self.max_inflight_batches)
        # The run's span is current while the chunk tasks start, so each inherits it.
        with self.ica.telemetry.run(kind, run_id) as run:
            async with send, anyio.create_task_group() as tg:
                async for chunk in chunks:
                    await slots.acquire()  # pull no more input than max_inflight_batches chunks
                    tg.start_soon(
                        self._run_chunk, kind, run_id, chunk, send.clone(), counters, slots
                    )
            run.counts(counters.finished)
        self.journal.finish_run(run_id)

    async def _run_chunk(
        self,
        kind: Kind,
        run_id: str,
        chunk: Chunk,
        send: MemoryObjectSendStream[ItemOutcome],
        counters: _Counters,
        slots: anyio.Semaphore,
    ) -> None:
        size = len(chunk.keys) + len(chunk.duplicates)
        try:
            async with send:
                with self.ica.telemetry.chunk(kind, run_id, chunk.index, size) as scope:
                    outcomes = [
                        # Failures carry their input item, so a report says what to fix or resend.
                        o if o.ok else attrs.evolve(o, request=chunk.request_of(o.key))
                        for o in await self._chunk_outcomes(kind, run_id, chunk, counters, scope)
                    ]
                    statuses = {o.status for o in outcomes}
                    scope.finished(
                        _count(outcomes),
                        state="incomplete" if statuses & {UNKNOWN, NOT_SUBMITTED} else "done",
                    )
                counters.batches += 1
                for outcome in outcomes:
                    counters.finished[outcome.status] = counters.finished.get(outcome.status, 0) + 1
                counters.emit()
                for outcome in outcomes:
                    await send.send(outcome)
        finally:
            slots.release()

    async def _chunk_outcomes(
        self, kind: Kind, run_id: str, chunk: Chunk, counters: _Counters, scope: ChunkScope
    ) -> list[ItemOutcome]:
        record = self.journal.get_chunk(run_id, chunk.index)
        if record is not None and record.digest != chunk.digest:
            raise RequestValidationError(
                f"chunk {chunk.index} of run {run_id} was recorded with other input (other "
                "items, order or batch_size); resume with the same input, or start a new run "
                "with a new journal or another run_id",
                field="journal",
            )
        counters.submitted += len(chunk.keys) + len(chunk.duplicates)
        if record is not None and record.state == DONE:
            log.debug(
                "chunk %d of run %s already done; not sent again",
                chunk.index,
                run_id,
                extra={"run_id": run_id, "kind": kind, "chunk": chunk.index},
            )
            done = self.journal.outcomes(run_id, chunk.index)
            scope.finished(_count(done), state="journaled")
            return done

        resubmitted = False
        if record is not None and record.state == SUBMITTED and record.batch_id:
            batch_id = record.batch_id
            resubmitted = kind != "analysis" and record.attempts > 1
            scope.submitted(batch_id, resumed=True)
        else:
            # A chunk left "sending" by a killed run may have reached the server: link and update
            # batches are sent again (safe in effect) and their items marked as re-submitted.
            resubmitted = kind != "analysis" and record is not None and record.state == SENDING
            key = chunk_key(run_id, kind, chunk.index, chunk.digest)
            self.journal.mark_sending(run_id, chunk.index, key, chunk.digest)
            counters.in_flight += 1
            counters.emit()
            try:
                batch_id, lost = await self._submit(kind, run_id, chunk, key)
            except (
                IdempotencyConflictError,
                AuthenticationError,
                PermissionDeniedError,
                NotFoundError,
            ):
                # Wrong key, credentials or project: every chunk would fail alike, and a
                # journal must not record as final what a corrected re-run should send.
                raise
            except APIStatusError as exc:
                counters.in_flight -= 1
                if exc.status >= 500 or exc.status in (408, 429):
                    # Still failing after the retries: not sent as far as we know; a re-run
                    # with the journal sends it again.
                    return self._chunk_failed(kind, chunk, NOT_SUBMITTED, str(exc), resubmitted)
                # The server refused this input: sending it again would be refused again.
                outcomes = self._chunk_failed(kind, chunk, REJECTED, str(exc), resubmitted)
                self.journal.mark_done(run_id, chunk.index, outcomes)
                return outcomes
            except APIConnectionError as exc:
                counters.in_flight -= 1
                return self._chunk_failed(kind, chunk, NOT_SUBMITTED, str(exc), resubmitted)
            resubmitted = resubmitted or lost
            self.journal.mark_submitted(run_id, chunk.index, batch_id)
            scope.submitted(batch_id)
            log.info(
                "chunk %d of run %s submitted as batch %s",
                chunk.index,
                run_id,
                batch_id,
                extra={"run_id": run_id, "kind": kind, "chunk": chunk.index, "batch_id": batch_id},
            )
            counters.in_flight -= 1
        counters.in_flight += 1
        try:
            outcomes = await self._await_items(kind, chunk, batch_id, resubmitted)
        except (APIStatusError, APIConnectionError) as exc:
            # Polling failed past its retries (or the batch is gone): the items stay UNKNOWN
            # and the chunk stays "submitted", so a re-run with the journal looks again.
            outcomes = [
                ItemOutcome(
                    kind,
                    key,
                    UNKNOWN,
                    False,
                    f"polling batch {batch_id} failed: {exc}",
                    batch_id,
                    chunk=chunk.index,
                    resubmitted=resubmitted,
                )
                for key in [*chunk.keys, *chunk.duplicates]
            ]
        finally:
            counters.in_flight -= 1
        if all(o.status != UNKNOWN for o in outcomes):
            self.journal.mark_done(run_id, chunk.index, outcomes)
        return outcomes

    async def _submit(self, kind: Kind, run_id: str, chunk: Chunk, key: str) -> tuple[str, bool]:
        """Create the chunk's batch; returns its id and whether an answer was lost on the way."""
        lost = False

        def on_retry(error: Exception) -> None:
            nonlocal lost
            # A connection failure or a 500 may come after the server processed the POST.
            if isinstance(error, APIConnectionError) or (
                isinstance(error, APIStatusError) and error.status == 500
            ):
                lost = True
                # Count the attempt in the journal too, so a resumed run still knows the items
                # may have been sent twice.
                self.journal.mark_sending(run_id, chunk.index, key, chunk.digest)

        if kind == "link":
            batch = await self.ica.data_linking_batches.create(
                self.project_id,
                [item.data_id for item in chunk.body.items],
                retry_safe=True,
                on_retry=on_retry,
            )
            return batch.id, lost
        if kind == "update":
            update = await self.ica.data_update_batches.create(
                self.project_id, chunk.body.data_update_groups, retry_safe=True, on_retry=on_retry
            )
            return update.id, lost
        analysis = await self.ica.analysis_creation_batches.create(
            self.project_id, chunk.body, idempotency_key=key
        )
        return analysis.id, False  # keyed: a replayed create returns the same batch

    def _chunk_failed(
        self, kind: Kind, chunk: Chunk, status: str, info: str, resubmitted: bool
    ) -> list[ItemOutcome]:
        return [
            ItemOutcome(kind, key, status, False, info, chunk=chunk.index, resubmitted=resubmitted)
            for key in [*chunk.keys, *chunk.duplicates]
        ]

    async def _await_items(
        self, kind: Kind, chunk: Chunk, batch_id: str, resubmitted: bool
    ) -> list[ItemOutcome]:
        """Wait until every item of the batch is final, then read them once, 1,000 a page.

        Each poll is one request: a one-item page filtered on the pending statuses, whose
        ``remainingRecords`` says how many items are still pending. From how fast that number
        falls the next poll is timed for the expected end of the batch; while it does not move
        the interval backs off, and after a few still polls the batch's job is checked too, so a
        stopped or failed job is not waited on until the deadline.
        """
        resource = self._resource(kind)
        backoff = Backoff(self.poll_initial, max(self.poll_max, self.poll_initial), 1.5)
        deadline = self._clock() + self.poll_timeout
        final = _FINAL[kind]
        pending_statuses = sorted(_ALL[kind] - final)
        last: tuple[float, int] | None = None
        still = 0
        while True:
            probe = await self._items(resource, batch_id, status=pending_statuses, page_size=1)
            pending = len(probe.items) + (probe.remaining_records or 0)
            now = self._clock()
            job_done = False
            if pending and last is not None and pending == last[1]:
                still += 1
                if still % 3 == 0:
                    batch = await resource.get(self.project_id, batch_id)
                    job = getattr(batch, "job", None)
                    job_done = job is not None and job.status in JobStatus.FINAL
            if pending == 0 and kind in _COMMON:
                counted = await self._count_common(kind, resource, batch_id, len(chunk.keys))
                if counted is not None:
                    return self._item_outcomes(
                        kind, chunk, batch_id, counted, resubmitted, assumed=_COMMON[kind]
                    )
            if pending == 0 or job_done or now >= deadline:
                items = {
                    self._item_key(kind, it): it
                    async for it in self._items(resource, batch_id, page_size=1000)
                }
                if (
                    now < deadline
                    and not job_done
                    and any(it.processing.status not in final for it in items.values())
                ):
                    last = (now, pending)  # the count lagged the items: look again shortly
                    await self._sleep(self.poll_initial)
                    continue
                return self._item_outcomes(kind, chunk, batch_id, items, resubmitted)
            await self._sleep(self._next_delay(backoff, last, now, pending))
            if last is None or pending != last[1]:
                still = 0
            last = (now, pending)

    async def _count_common(
        self, kind: Kind, resource: Any, batch_id: str, expected: int
    ) -> dict[str, ItemView] | None:
        """Read only the items not in the usual success status, and count those that are.

        A finished batch of 1,000 linked files is a 2.5 MB page; two small requests say the
        same: how many items are LINKED (a one-item page's ``remainingRecords``), and which
        items are anything else. Returns ``None`` when the numbers do not add up to the batch
        (a status this library does not know, or an approximate count), and the caller reads
        every item instead.
        """
        common = _COMMON[kind]
        probe = await self._items(resource, batch_id, status=[common], page_size=1)
        n_common = len(probe.items) + (probe.remaining_records or 0)
        others = sorted(_ALL[kind] - {common})
        rest = {
            self._item_key(kind, it): it
            async for it in self._items(resource, batch_id, status=others, page_size=1000)
        }
        if n_common + len(rest) != expected:
            return None
        return rest

    def _next_delay(
        self, backoff: Backoff, last: tuple[float, int] | None, now: float, pending: int
    ) -> float:
        """Time the next poll for the expected end when items are moving, else back off."""
        if last is None or pending >= last[1] or now <= last[0]:
            return backoff.next(changed=last is None or pending != last[1])
        backoff.reset()
        rate = (last[1] - pending) / (now - last[0])
        eta = pending / rate
        if eta > self.poll_initial:
            # Far from the end the estimate is rough (it includes the batch's start-up):
            # look again halfway to refine it instead of overshooting on a guess.
            return min(max(eta / 2, self.poll_initial), self.poll_max)
        return min(eta * 1.05 + 0.01, self.poll_max)  # just past the expected end

    def _items(
        self, resource: Any, batch_id: str, *, page_size: int, status: list[str] | None = None
    ) -> AsyncPaginator[ItemView]:
        paginator: AsyncPaginator[ItemView] = resource._paginate(
            self.project_id,
            batch_id,
            status=status,
            page_size=page_size,
            page_offset=None,
            page_model=ItemPageView,
            options={},
        )
        return paginator

    def _resource(self, kind: Kind) -> Any:
        if kind == "link":
            return self.ica.data_linking_batches
        if kind == "update":
            return self.ica.data_update_batches
        return self.ica.analysis_creation_batches

    @staticmethod
    def _item_key(kind: Kind, item: Any) -> str:
        return str(item.request.user_reference if kind == "analysis" else item.request.data_id)

    def _item_outcomes(
        self,
        kind: Kind,
        chunk: Chunk,
        batch_id: str,
        items: dict[str, Any],
        resubmitted: bool,
        *,
        assumed: str | None = None,
    ) -> list[ItemOutcome]:
        """One outcome per key of the chunk; with ``assumed``, keys not in ``items`` were
        counted in that status."""
        ok, final = _OK[kind], _FINAL[kind]
        outcomes: list[ItemOutcome] = []
        for key in chunk.keys:
            item = items.get(key)
            if item is None and assumed is not None:
                outcomes.append(
                    ItemOutcome(
                        kind,
                        key,
                        assumed,
                        True,
                        None,
                        batch_id,
                        chunk=chunk.index,
                        resubmitted=resubmitted,
                    )
                )
                continue
            if item is None:
                status = UNKNOWN if not items else MISSING
                info = "no final status before poll_timeout" if not items else "not in the batch"
                outcomes.append(
                    ItemOutcome(
                        kind,
                        key,
                        status,
                        False,
                        info,
                        batch_id,
                        chunk=chunk.index,
                        resubmitted=resubmitted,
                    )
                )
                continue
            status = item.processing.status
            created = getattr(item, "created_analysis", None)
            outcomes.append(
                ItemOutcome(
                    kind,
                    key,
                    status if status in final else UNKNOWN,
                    status in ok,
                    item.processing.additional_status_information,
                    batch_id,
                    item.id,
                    chunk.index,
                    resubmitted,
                    created.id if created is not None else None,
                )
            )
        outcomes.extend(
            ItemOutcome(
                kind,
                dup,
                DUPLICATE,
                True,
                "repeated in the same batch; sent once",
                batch_id,
                chunk=chunk.index,
                resubmitted=resubmitted,
            )
            for dup in chunk.duplicates
        )
        return outcomes
