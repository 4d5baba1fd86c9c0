"""The subcommands ``link``, ``update``, ``analyses`` and ``transfers``."""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import attrs
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._client import TapisClient
from .._converter import unstructure
from .._errors import APIConnectionError, APIStatusError, ConflictError, NotFoundError
from ..concurrency import gather_bounded
from ..models import DataTransfer
from ..orchestrator import (
    BatchOrchestrator,
    BatchReport,
    TransferOrchestrator,
    TransferOutcome,
    TransferReport,
    TransferRequest,
)
from ._config import Settings, settings_from
from ._connect import connect
from ._inputs import (
    UpdateChanges,
    chunked,
    parse_when,
    read_data_ids,
    read_sample_sheet,
    read_transfer_pairs,
    read_update_groups,
)
from ._output import (
    batch_table,
    counts_line,
    print_failures,
    print_json,
    transfer_report_dict,
    transfer_table,
)
from ._progress import ProgressDisplay, StageBar
from ._state import RunState

__all__ = (
    "cmd_analyses",
    "cmd_link",
    "cmd_transfers",
    "cmd_update",
    "run_transfer_requests",
)

#: Final statuses of ICA data transfers.
TRANSFER_FINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})
#: Statuses of a transfer whose abort was accepted.
ABORTING = frozenset({"ABORTREQUESTED", "ABORTED"})


def _short(exc: Exception) -> str:
    """The server's explanation of an error, without the request line."""
    problem = getattr(exc, "problem", None)
    detail = getattr(problem, "detail", None) or getattr(problem, "title", None)
    if detail:
        return str(detail)
    return str(getattr(exc, "message", None) or exc)


def _stdout() -> Console:
    return Console(highlight=False)


def _display(args: argparse.Namespace) -> ProgressDisplay:
    return ProgressDisplay(enabled=not (args.quiet or args.json))


async def _batch_run(
    args: argparse.Namespace,
    state: RunState,
    settings: Settings,
    *,
    kind: str,
    items: Sequence[Any],
    expected: int,
    label: str,
) -> int:
    state.journal = args.journal
    state.simulator = settings.simulator
    async with connect(settings) as conn:
        with _display(args) as display:
            bar = display.stage(label, expected)
            state.bars.append(bar)
            orchestrator = BatchOrchestrator(
                conn.need_ica(),
                conn.need_project(),
                batch_size=settings.batch_size,
                max_inflight_batches=settings.max_batches,
                journal=args.journal,
                progress=bar,
            )
            try:
                if kind == "link":
                    report = await orchestrator.link(items)
                elif kind == "update":
                    report = await orchestrator.update(items)
                else:
                    report = await orchestrator.create_analyses(items)
            finally:
                orchestrator.close()
            bar.finish()
    return _print_batch_report(args, report, expected, label)


def _print_batch_report(
    args: argparse.Namespace, report: BatchReport, expected: int, label: str
) -> int:
    lost = expected - report.total
    if args.json:
        print_json({**report.to_dict(), "expected": expected, "lost": lost})
    else:
        console = _stdout()
        console.print(batch_table(report, f"{label}: {expected:,} input items", expected))
        if report.failures:
            console.print(f"[red]{len(report.failures):,} items did not succeed:[/]")
            print_failures(console, report.failures)
    return 0 if report.ok and lost == 0 else 1


# -- link ----------------------------------------------------------------------------------------


async def cmd_link(args: argparse.Namespace, state: RunState) -> int:
    """Link every data id of a file (or stdin) into the project."""
    settings = settings_from(args)
    ids = read_data_ids(args.file)
    return await _batch_run(
        args, state, settings, kind="link", items=ids, expected=len(ids), label="link"
    )


# -- update --------------------------------------------------------------------------------------


def changes_from_flags(args: argparse.Namespace) -> UpdateChanges:
    """The changes the update flags ask for (applied to every data id)."""

    def when(value: str | None, flag: str) -> Any:
        if not value:
            return None
        try:
            return parse_when(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{flag}: {exc}") from None

    return UpdateChanges(
        tuple(args.add_tag or ()),
        tuple(args.remove_tag or ()),
        tuple(args.add_technical_tag or ()),
        tuple(args.remove_technical_tag or ()),
        when(args.archive_at, "--archive-at"),
        when(args.delete_at, "--delete-at"),
        bool(args.clear_archive_at),
        bool(args.clear_delete_at),
    )


async def cmd_update(args: argparse.Namespace, state: RunState) -> int:
    """Apply tag and archive/delete-time changes to the data ids of a file."""
    settings = settings_from(args)
    groups, count = read_update_groups(args.file, changes_from_flags(args), fmt=args.format)
    return await _batch_run(
        args, state, settings, kind="update", items=groups, expected=count, label="update"
    )


# -- analyses ------------------------------------------------------------------------------------


async def cmd_analyses(args: argparse.Namespace, state: RunState) -> int:
    """Create one analysis per row of a sample sheet, exactly once (resumable with --journal)."""
    settings = settings_from(args)
    requests = read_sample_sheet(args.file, pipeline_id=args.pipeline_id, fmt=args.format)
    return await _batch_run(
        args,
        state,
        settings,
        kind="analysis",
        items=requests,
        expected=len(requests),
        label="analyses",
    )


# -- transfers -----------------------------------------------------------------------------------


async def cmd_transfers(args: argparse.Namespace, state: RunState) -> int:
    """Dispatch ``transfers list | abort | create``."""
    if args.action == "create":
        return await _transfers_create(args, state)
    settings = settings_from(args)
    state.simulator = settings.simulator
    async with connect(settings) as conn:
        if args.action == "list":
            return await _transfers_list(args, conn.need_ica(), conn.need_project())
        return await _transfers_abort(args, conn.need_ica(), conn.need_project(), settings)


async def _transfers_list(args: argparse.Namespace, ica: Any, project: str) -> int:
    transfers: list[DataTransfer] = []
    pages = ica.data_transfers.list(
        project,
        status=args.status,
        direction=args.direction,
        connector=args.connector,
        sort=args.sort,
        page_size=min(args.limit or 1000, 1000),
    )
    async for transfer in pages:
        transfers.append(transfer)
        if args.limit and len(transfers) >= args.limit:
            break
    if args.json:
        print_json([unstructure(t) for t in transfers])
        return 0
    console = _stdout()
    wide = console.width >= 140
    table = Table(title=f"data transfers of project {project}", title_justify="left")
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("direction", no_wrap=True, min_width=8)
    table.add_column("transferred", justify="right", no_wrap=True, min_width=9)
    table.add_column("reference", overflow="ellipsis", no_wrap=True, max_width=48)
    if wide:
        table.add_column("message", overflow="ellipsis", no_wrap=True, max_width=60)
    for t in transfers:
        table.add_row(
            escape(t.id),
            escape(t.status),
            escape(t.direction),
            _size(t.data_transferred),
            escape(t.reference),
            *([escape(t.status_message or "")] if wide else []),
        )
    console.print(table)
    console.print(f"{len(transfers):,} transfers")
    return 0


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{count} B"


@attrs.define
class _AbortResult:
    id: str
    result: str
    status: str | None = None
    error: str | None = None


async def _transfers_abort(
    args: argparse.Namespace, ica: Any, project: str, settings: Settings
) -> int:
    ids: list[str] = list(args.ids)
    if args.status:
        async for transfer in ica.data_transfers.list(
            project, status=args.status, direction=args.direction
        ):
            ids.append(transfer.id)
    if not ids:
        if args.json:
            print_json([])
        else:
            _stdout().print("no transfers to abort")
        return 0

    async def abort(transfer_id: str) -> _AbortResult:
        try:
            await ica.data_transfers.abort(project, transfer_id, retry_safe=True)
            outcome = _AbortResult(transfer_id, "abort requested")
        except ConflictError as exc:
            # Either final already, or our own first attempt went through and its answer was
            # lost (the retry then conflicts): the transfer's status tells which.
            outcome = _AbortResult(transfer_id, "already final", error=_short(exc))
        except NotFoundError as exc:
            return _AbortResult(transfer_id, "not found", error=_short(exc))
        except (APIStatusError, APIConnectionError) as exc:
            return _AbortResult(transfer_id, "error", error=_short(exc))
        if args.wait:
            outcome.status = await _wait_transfer(ica, project, transfer_id, args.timeout)
        else:
            outcome.status = (await ica.data_transfers.get(project, transfer_id)).status
        if outcome.result == "already final" and outcome.status in ABORTING:
            outcome.result, outcome.error = "abort requested", None
        return outcome

    results = await gather_bounded(abort, ids, limit=max(1, min(settings.concurrency, 16)))
    if args.json:
        print_json([attrs.asdict(r) for r in results])
    else:
        table = Table(title=f"abort in project {project}", title_justify="left")
        for column in ("id", "result", "status", "error"):
            table.add_column(column)
        for r in results:
            table.add_row(
                escape(r.id),
                escape(r.result),
                escape(r.status or ""),
                escape(r.error or ""),
                style="red" if r.result in ("not found", "error") else None,
            )
        _stdout().print(table)
    return 1 if any(r.result in ("not found", "error") for r in results) else 0


async def _wait_transfer(ica: Any, project: str, transfer_id: str, limit_s: float) -> str:
    status = "ABORTREQUESTED"
    with anyio.move_on_after(limit_s):
        delay = 0.2
        while True:
            status = (await ica.data_transfers.get(project, transfer_id)).status
            if status in TRANSFER_FINAL:
                break
            await anyio.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    return status


async def run_transfer_requests(
    tapis: TapisClient,
    requests: Sequence[TransferRequest],
    bar: StageBar,
    *,
    max_in_flight: int = 16,
    poll_initial: float = 0.5,
    poll_max: float = 15.0,
) -> TransferReport:
    """Create and follow every request with one :class:`TransferOrchestrator`, advancing ``bar``.

    Each request needs its own tag (the orchestrator finds a task again by it after a lost
    answer).
    """
    orchestrator = TransferOrchestrator(
        tapis, max_in_flight=max_in_flight, poll_initial=poll_initial, poll_max=poll_max
    )
    started = time.monotonic()
    base = (tapis.metrics.requests, tapis.metrics.throttled)
    counts: dict[str, int] = {}

    async def one(pair: tuple[int, TransferRequest]) -> TransferOutcome:
        index, request = pair
        report = await orchestrator.run([request])
        outcome = attrs.evolve(report.outcomes[0], index=index)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        bar.advance(1, f"{counts_line(counts)} · req {tapis.metrics.requests - base[0]:,}")
        return outcome

    outcomes = await gather_bounded(one, list(enumerate(requests)), limit=max_in_flight)
    report = TransferReport(orchestrator.run_id, list(outcomes), dict(sorted(counts.items())))
    report.requests = tapis.metrics.requests - base[0]
    report.throttled = tapis.metrics.throttled - base[1]
    report.elapsed_s = time.monotonic() - started
    return report


async def _transfers_create(args: argparse.Namespace, state: RunState) -> int:
    settings = settings_from(args, need_ica=False, need_tapis=True)
    state.simulator = settings.simulator
    elements = read_transfer_pairs(args.file)
    prefix = args.tag or f"ita-{uuid.uuid4().hex[:12]}"
    requests = [
        TransferRequest(group, tag=f"{prefix}-{index:06d}")
        for index, group in enumerate(chunked(elements, args.per_task))
    ]
    state.note = (
        f"transfer tasks already created keep running on the server (tags {prefix}-*); "
        "list them with the Tapis API or cancel them by uuid"
    )
    async with connect(settings, ica=False, tapis=True) as conn:
        with _display(args) as display:
            bar = display.stage("transfers", len(requests))
            state.bars.append(bar)
            report = await run_transfer_requests(
                conn.need_tapis(), requests, bar, max_in_flight=args.max_tasks
            )
            bar.finish()
    if args.json:
        print_json(transfer_report_dict(report))
    else:
        console = _stdout()
        console.print(transfer_table(report, f"Tapis transfers: {len(requests):,} tasks"))
        for failure in report.failures[:10]:
            console.print(
                f"  [red]{escape(failure.status)}[/] "
                + escape(f"task {failure.uuid} ({failure.tag}): {failure.error_message or ''}")
            )
    return 0 if not report.failures and len(report.outcomes) == len(requests) else 1
