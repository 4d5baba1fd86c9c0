"""``verify_run``: re-read from the server every batch (or Tapis task) a run recorded, item by
item, and reconcile it with the journal's outcomes.

Only GET requests are sent, through the given clients, so the clients' limiter (a shared
Redis one included) paces them like any other request.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import attrs

from .._client import IcaClient, TapisClient
from .._errors import NotFoundError, RequestValidationError
from ..models import TransferStatus
from ._journal_open import is_database_url, open_journal
from ._journal_protocol import ChunkRecord, Journal
from ._outcomes import ALL, DUPLICATE, MISSING, item_key
from ._plan import Kind, check_run_id
from ._report import ItemOutcome
from ._verify_report import Discrepancy, VerifyReport
from ._verify_runwide import missing_chunks, tasks_twice
from ._verify_runwide import problem as _problem
from ._views import ItemView

__all__ = ("Discrepancy", "VerifyReport", "verify_run")

#: The kinds of run a journal records.
_KINDS = ("link", "update", "analysis", "transfer")


async def verify_run(
    journal: str | Path | Journal,
    run_id: str,
    *,
    ica: IcaClient | None = None,
    tapis: TapisClient | None = None,
    max_in_flight: int = 8,
) -> VerifyReport:
    """Re-read every batch (or Tapis task) the run recorded and compare it with the journal.

    For batch runs each recorded batch's items are read (1,000 a page) and every journal
    outcome is compared with the server's item: its status, its created analysis, an item the
    server does not hold, an item the journal does not know, a key in two batches. For
    transfer runs each recorded task is read and its status and tag compared. Chunks the
    journal has not finished are reported ``unfinished``. Only GET requests are sent.

    Args:
        journal: the run's journal (a SQLite path, a ``postgresql://`` URL, or a journal).
        run_id: the run to verify.
        ica: the ICA client (batch runs).
        tapis: the Tapis client (transfer runs).
        max_in_flight: batches or tasks read at once.

    Raises:
        RequestValidationError: no such journal file or run, or the client its kind needs
            is missing.
    """
    check_run_id(run_id)
    if max_in_flight < 1:
        raise RequestValidationError("must be >= 1", field="max_in_flight")
    # Opening a SQLite journal creates the file: verifying a mistyped path must not.
    sqlite = isinstance(journal, str | Path) and not is_database_url(journal)
    if sqlite and not await anyio.Path(str(journal)).is_file():
        raise RequestValidationError(f"{str(journal)!r}: no such file", field="journal")
    opened, owned = open_journal(journal)
    try:
        run = await opened.get_run(run_id)
        if run is None:
            raise RequestValidationError(f"no run {run_id!r} in this journal", field="run_id")
        if run.kind not in _KINDS:
            # A damaged journal: its batches would be read as another kind's, or not at all.
            raise RequestValidationError(
                f"run {run_id!r} is of kind {run.kind!r}, not one this release records "
                f"({', '.join(_KINDS)})",
                field="run_id",
            )
        client: IcaClient | TapisClient | None = tapis if run.kind == "transfer" else ica
        if client is None:
            need = "tapis" if run.kind == "transfer" else "ica"
            raise RequestValidationError(f"a {run.kind} run is verified with a client", field=need)
        report = VerifyReport(run.run_id, run.kind, run.project_id)
        base = client.metrics.requests
        chunks = await opened.chunks(run_id)
        report.chunks = len(chunks)
        check: _Check = _check_task if run.kind == "transfer" else _check_batch
        checked: dict[int, _Checked] = {}
        slots = anyio.Semaphore(max_in_flight)

        async def one(chunk: ChunkRecord) -> None:
            try:
                outcomes = await opened.outcomes(run_id, chunk.index) if chunk.final else []
                checked[chunk.index] = await check(
                    client, run.project_id, run.kind, chunk, outcomes
                )
            finally:
                slots.release()

        async with anyio.create_task_group() as tg:
            for chunk in chunks:
                await slots.acquire()  # no more chunks read than max_in_flight at once
                tg.start_soon(one, chunk)
        _reconcile(report, chunks, [checked[c.index] for c in chunks])
        report.discrepancies.extend(await missing_chunks(opened, run, chunks))
        if tapis is not None and run.kind == "transfer":
            report.discrepancies.extend(await tasks_twice(tapis, run, chunks))
        report.requests = client.metrics.requests - base
        return report
    finally:
        if owned:
            await opened.aclose()


@attrs.define
class _Checked:
    """One chunk, compared: what the journal recorded (in brief), what the server reported,
    what disagreed. Outcomes are not kept: a million-item run is verified in little memory."""

    items: int
    statuses: Counter[str]
    keys: list[str]
    server_statuses: Counter[str] = attrs.field(factory=Counter)
    read: bool = False
    problems: list[Discrepancy] = attrs.field(factory=list)

    @classmethod
    def of(cls, outcomes: list[ItemOutcome]) -> _Checked:
        """The brief of a chunk's outcomes (keys without the collapsed duplicates)."""
        return cls(
            len(outcomes),
            Counter(o.status for o in outcomes),
            [o.key for o in outcomes if o.status != DUPLICATE],
        )


_Check = Callable[[Any, str, str, ChunkRecord, list[ItemOutcome]], Awaitable[_Checked]]


def _unfinished(
    chunk: ChunkRecord, outcomes: list[ItemOutcome], server: Counter[str] | None
) -> _Checked:
    """A chunk the journal never finished, with what the server holds of it (``None``: no
    batch or task recorded, or the server does not know it)."""
    detail = f"the journal has no final outcomes for this chunk (state {chunk.state})"
    if chunk.in_doubt:
        detail += "; it is in doubt (its batch may exist on the server)"
    result = _Checked.of(outcomes)
    result.server_statuses = server or Counter()
    result.read = server is not None
    said = ", ".join(f"{status} {count}" for status, count in sorted((server or {}).items()))
    result.problems.append(_problem("unfinished", chunk, detail, server=said or None))
    return result


async def _read_batch(
    ica: IcaClient, project_id: str, kind: str, batch_id: str
) -> dict[str, list[ItemView]] | None:
    """Every item of a batch by its key (``None``: the server does not know the batch)."""
    resource: Any = {
        "link": ica.data_linking_batches,
        "update": ica.data_update_batches,
    }.get(kind, ica.analysis_creation_batches)
    items: dict[str, list[ItemView]] = {}
    try:
        async for item in resource.list_item_summaries(project_id, batch_id, page_size=1000):
            items.setdefault(item_key(_kind(kind), item), []).append(item)
    except NotFoundError:
        return None
    return items


async def _check_batch(
    ica: IcaClient, project_id: str, kind: str, chunk: ChunkRecord, outcomes: list[ItemOutcome]
) -> _Checked:
    read = None
    if chunk.batch_id is not None:
        read = await _read_batch(ica, project_id, kind, chunk.batch_id)
    if not chunk.final:
        on_server = None
        if read is not None:
            on_server = Counter(it.processing.status for its in read.values() for it in its)
        return _unfinished(chunk, outcomes, on_server)
    result = _Checked.of(outcomes)
    if chunk.batch_id is None:
        # Never created (refused, not submitted): nothing on the server to read, so an
        # outcome the server would have had to report (LINKED, FAILED, ...) is not its word.
        _claims_without_batch(result, chunk, outcomes, ALL[_kind(kind)])
        return result
    if read is None:
        result.problems.append(
            _problem("batch_not_found", chunk, "the server does not know this batch")
        )
        return result
    items = read
    result.read = True
    _recorded_twice(result, chunk, outcomes)
    for key, found in items.items():
        result.server_statuses.update(it.processing.status for it in found)
        if len(found) > 1:
            statuses = ", ".join(it.processing.status for it in found)
            result.problems.append(
                _problem("repeated", chunk, f"the batch holds this key {len(found)} times",
                         key=key, server=statuses)
            )  # fmt: skip
    recorded = set(result.keys)
    for outcome in outcomes:
        if outcome.status == DUPLICATE:
            continue  # collapsed into its first occurrence, which is the one sent
        held = items.get(outcome.key)
        if not held:
            if outcome.status != MISSING:
                result.problems.append(
                    _problem("not_on_server", chunk, "the server's batch has no such item",
                             key=outcome.key, journal=outcome.status)
                )  # fmt: skip
            continue
        server = held[0]
        if server.processing.status != outcome.status:
            result.problems.append(
                _problem("status", chunk, "the server reports another status",
                         key=outcome.key, journal=outcome.status, server=server.processing.status)
            )  # fmt: skip
        created = server.created_analysis.id if server.created_analysis is not None else None
        # An analysis run records every created analysis (items are read, never counted).
        lost = kind == "analysis" and outcome.analysis_id is None and created is not None
        if (outcome.analysis_id is not None and outcome.analysis_id != created) or lost:
            result.problems.append(
                _problem("analysis", chunk, "the server's item created another analysis",
                         key=outcome.key, journal=outcome.analysis_id, server=created)
            )  # fmt: skip
        elif outcome.item_id is not None and outcome.item_id != server.id:
            result.problems.append(
                _problem("analysis", chunk, "the server's item has another id",
                         key=outcome.key, journal=outcome.item_id, server=server.id)
            )  # fmt: skip
    for key in items:
        if key not in recorded:
            result.problems.append(
                _problem("not_in_journal", chunk, "the journal has no outcome for this item",
                         key=key, server=items[key][0].processing.status)
            )  # fmt: skip
    return result


async def _check_task(
    tapis: TapisClient, project_id: str, kind: str, chunk: ChunkRecord, outcomes: list[ItemOutcome]
) -> _Checked:
    task = None
    if chunk.batch_id is not None:
        with contextlib.suppress(NotFoundError):  # reported below, for a finished entry
            task = await tapis.transfers.get(chunk.batch_id)
    if not chunk.final:
        held = Counter([task.status or "UNKNOWN"]) if task is not None else None
        return _unfinished(chunk, outcomes, held)
    result = _Checked.of(outcomes)
    if chunk.batch_id is None:
        # CANCELLED without a task: a request cancelled before its creation, never sent.
        server_only = TransferStatus.ALL - {TransferStatus.CANCELLED}
        _claims_without_batch(result, chunk, outcomes, server_only)
        return result  # never created: nothing on the server to read
    if task is None:
        result.problems.append(
            _problem("batch_not_found", chunk, "the server does not know this transfer task")
        )
        return result
    result.read = True
    _recorded_twice(result, chunk, outcomes)
    status = task.status or "UNKNOWN"
    result.server_statuses[status] += 1
    if not outcomes:
        result.problems.append(
            _problem("not_in_journal", chunk, "the journal has no outcome for this task",
                     key=task.tag, server=status)
        )  # fmt: skip
    for outcome in outcomes:
        if outcome.status != status:
            result.problems.append(
                _problem("status", chunk, "the server reports another status",
                         key=outcome.key, journal=outcome.status, server=status)
            )  # fmt: skip
        if (task.tag or "") != outcome.key:
            result.problems.append(
                _problem("tag", chunk, "the server's task carries another tag",
                         key=outcome.key, journal=outcome.key, server=task.tag)
            )  # fmt: skip
    return result


def _recorded_twice(result: _Checked, chunk: ChunkRecord, outcomes: list[ItemOutcome]) -> None:
    """A key the journal records more than once in one chunk: a chunk holds each key once
    (repeats collapse into DUPLICATE), so the journal counts an item the server has once."""
    for key, count in Counter(result.keys).items():
        if count > 1:
            said = ", ".join(o.status for o in outcomes if o.key == key and o.status != DUPLICATE)
            result.problems.append(
                _problem("repeated", chunk, f"the journal records this key {count} times",
                         key=key, journal=said)
            )  # fmt: skip


def _claims_without_batch(
    result: _Checked, chunk: ChunkRecord, outcomes: list[ItemOutcome], server: frozenset[str]
) -> None:
    """Outcomes of a chunk with no batch (or task) recorded that only the server can give: a
    success, or a status of the server's own. The journal has nothing to back them with."""
    for outcome in outcomes:
        if outcome.status != DUPLICATE and (outcome.ok or outcome.status in server):
            result.problems.append(
                _problem("not_on_server", chunk, "the journal records a server's outcome for "
                         "an item of a chunk it never recorded a batch or task for",
                         key=outcome.key, journal=outcome.status)
            )  # fmt: skip


def _kind(kind: str) -> Kind:
    return "link" if kind == "link" else "update" if kind == "update" else "analysis"


def _reconcile(report: VerifyReport, chunks: list[ChunkRecord], checked: list[_Checked]) -> None:
    """Add each chunk's findings, then what only the whole run shows: a key or a batch twice."""
    journal_counts: Counter[str] = Counter()
    server_counts: Counter[str] = Counter()
    recorded_in: dict[str, set[int]] = {}
    batches: dict[str, list[int]] = {}
    for chunk, result in zip(chunks, checked, strict=True):
        report.items += result.items
        report.batches_read += result.read
        if chunk.final and chunk.batch_id is None:
            report.never_sent += result.items
        journal_counts.update(result.statuses)
        server_counts.update(result.server_statuses)
        for key in result.keys:
            recorded_in.setdefault(key, set()).add(chunk.index)
        if chunk.batch_id is not None:
            batches.setdefault(chunk.batch_id, []).append(chunk.index)
    for chunk, result in zip(chunks, checked, strict=True):
        for problem in result.problems:
            elsewhere = recorded_in.get(problem.key or "", set()) - {chunk.index}
            if problem.problem == "not_in_journal" and elsewhere and report.kind != "transfer":
                # The key is recorded, but in another chunk: the server has it in two batches.
                where = ", ".join(str(i) for i in sorted(elsewhere))
                problem = attrs.evolve(
                    problem, problem="in_two_batches",
                    detail=f"this batch holds an item the journal records in chunk {where}",
                )  # fmt: skip
            report.discrepancies.append(problem)
        if report.kind == "analysis":
            # User references are unique in a run: one in two chunks was created twice.
            for key in sorted(set(result.keys)):
                others = recorded_in.get(key, set())
                if len(others) > 1 and chunk.index == min(others):
                    report.discrepancies.append(
                        _problem("in_two_batches", chunk, "the journal records this user "
                                 f"reference in chunks {sorted(others)}", key=key)
                    )  # fmt: skip
    by_index = {c.index: c for c in chunks}
    for indexes in batches.values():
        if len(indexes) > 1:
            first = by_index[indexes[0]]
            report.discrepancies.append(
                _problem("in_two_batches", first, f"one batch recorded for chunks {indexes}")
            )
    report.journal_counts = dict(journal_counts)
    report.server_counts = dict(server_counts)
