"""``transfers list | abort`` (ICA data transfers) and ``transfers create`` (Tapis tasks)."""

from __future__ import annotations

import argparse
import sys
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
from .._errors import (
    APIConnectionError,
    APIStatusError,
    ConflictError,
    NotFoundError,
    ResponseValidationError,
)
from ..concurrency import gather_bounded
from ..orchestrator import TransferOrchestrator, TransferReport, TransferRequest
from ._config import settings_from
from ._connect import connect, raise_if_unreachable
from ._inputs import chunked, read_transfer_pairs
from ._journal import check_journal
from ._output import (
    plural,
    print_json,
    short_id,
    transfer_report_dict,
    transfer_table,
)
from ._progress import ProgressDisplay, StageBar
from ._state import RunState
from ._transfer_list import check_listing, transfers_list
from ._usage import UsageError

__all__ = ("cmd_transfers", "run_transfer_requests")

#: Final statuses of ICA data transfers.
TRANSFER_FINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})
#: Statuses of a transfer whose abort was accepted.
ABORTING = frozenset({"ABORTREQUESTED", "ABORTED"})
#: How long an interrupted ``create`` may spend finding the tasks it created.
LOOKUP_S = 5.0
#: A terminal this wide shows whole ids; narrower ones get shortened ids.
WIDE = 120


def _short(exc: Exception) -> str:
    """The server's explanation of an error, without the request line."""
    problem = getattr(exc, "problem", None)
    detail = getattr(problem, "detail", None) or getattr(problem, "title", None)
    if detail:
        return str(detail)
    return str(getattr(exc, "message", None) or exc)


def _stdout() -> Console:
    return Console(highlight=False, emoji=False)


async def cmd_transfers(args: argparse.Namespace, state: RunState) -> int:
    """Dispatch ``transfers list | abort | create``."""
    if args.action == "create":
        return await _transfers_create(args, state)
    if args.action == "abort" and not (args.ids or args.status):
        raise UsageError(
            "transfers abort: give the transfer ids to abort, or --status (e.g. --status "
            "ONGOING) to abort every transfer with that status"
        )
    check_listing(args)
    settings = settings_from(args)
    state.simulator = settings.simulator
    state.secrets = settings.secrets
    async with connect(settings) as conn:
        if args.action == "list":
            return await transfers_list(args, conn.need_ica(), conn.need_project())
        return await _transfers_abort(
            args, conn.need_ica(), conn.need_project(), settings.concurrency
        )


@attrs.define
class _AbortResult:
    id: str
    result: str
    status: str | None = None
    error: str | None = None


_BAD_ABORTS = ("not found", "error", "timed out")


async def _transfers_abort(
    args: argparse.Namespace, ica: Any, project: str, concurrency: int
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
            _stdout().print(f"no {args.status} transfers to abort")
        return 0
    deadline = time.monotonic() + args.timeout

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
        except (APIStatusError, APIConnectionError, ResponseValidationError) as exc:
            # A page instead of ICA's 204 is no confirmation: an error row, the others go on.
            return _AbortResult(transfer_id, "error", error=_short(exc))
        if args.wait:
            outcome.status, final = await _wait_transfer(ica, project, transfer_id, deadline)
            if not final:
                outcome.result = "timed out"
                outcome.error = f"not final after {args.timeout:g} s"
        else:
            outcome.status = (await ica.data_transfers.get(project, transfer_id)).status
        if outcome.result == "already final" and outcome.status in ABORTING:
            outcome.result, outcome.error = "abort requested", None
        return outcome

    results = await gather_bounded(abort, ids, limit=max(1, min(concurrency, 16)))
    if args.json:
        print_json([attrs.asdict(r) for r in results])
    else:
        _print_aborts(results, project)
    late = [r for r in results if r.result == "timed out"]
    if late:
        print(
            f"error: gave up waiting after {args.timeout:g} s (--timeout): "
            f"{plural(len(late), 'transfer')} not final yet: " + ", ".join(r.id for r in late),
            file=sys.stderr,
        )
    return 1 if any(r.result in _BAD_ABORTS for r in results) else 0


def _print_aborts(results: Sequence[_AbortResult], project: str) -> None:
    console = _stdout()
    wide = console.width >= WIDE
    table = Table(title=f"abort in project {escape(project)}", title_justify="left")
    table.add_column("id", no_wrap=True)
    for column in ("result", "status", "error"):
        table.add_column(column)
    for r in results:
        table.add_row(
            escape(r.id if wide else short_id(r.id)),
            escape(r.result),
            escape(r.status or ""),
            escape(r.error or ""),
            style="red" if r.result in _BAD_ABORTS else None,
        )
    console.print(table)


async def _wait_transfer(
    ica: Any, project: str, transfer_id: str, deadline: float
) -> tuple[str, bool]:
    """The transfer's last status, and whether it was final before ``deadline``."""
    status = "ABORTREQUESTED"
    with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
        delay = 0.2
        while True:
            status = (await ica.data_transfers.get(project, transfer_id)).status
            if status in TRANSFER_FINAL:
                return status, True
            await anyio.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    return status, False


async def run_transfer_requests(
    tapis: TapisClient,
    requests: Sequence[TransferRequest],
    bar: StageBar,
    *,
    max_in_flight: int = 16,
    poll_initial: float = 0.5,
    poll_max: float = 15.0,
    journal: str | None = None,
    started: list[TransferOrchestrator] | None = None,
) -> TransferReport:
    """Create and follow every request with one :class:`TransferOrchestrator`, advancing ``bar``.

    With ``journal`` a rerun resumes: tasks already created are followed, not created again.
    ``started`` (if given) receives the orchestrator, so an interrupted caller can name its run.
    """
    if not requests:
        return TransferReport("-")
    orchestrator = TransferOrchestrator(
        tapis,
        max_in_flight=max_in_flight,
        poll_initial=poll_initial,
        poll_max=poll_max,
        journal=journal,
        progress=bar.on_transfer,
    )
    if started is not None:
        started.append(orchestrator)
    try:
        return await orchestrator.run(requests)
    finally:
        with anyio.CancelScope(shield=True):
            await orchestrator.aclose()


async def _created_tasks(tapis: TapisClient, prefix: str, most: int) -> list[str]:
    """``tag uuid`` of the tasks tagged ``prefix-*`` among the newest ``most`` of the caller."""
    found: list[str] = []
    seen = 0
    async for task in tapis.transfers.list_recent(page_size=min(max(most, 1), 1000)):
        seen += 1
        if task.tag and task.tag.startswith(prefix + "-") and task.uuid:
            found.append(f"{task.tag} {task.uuid}")
        if seen >= most:
            break
    return sorted(found)


def _created_note(prefix: str, lines: Sequence[str], complete: bool) -> str:
    head = (
        f"{plural(len(lines), 'transfer task')} had been created (tags {prefix}-*); they keep "
        "running on the server: cancel them by uuid if need be"
    )
    tail = "" if complete else f"\n(the list may be incomplete: look for tags {prefix}-*)"
    return head + ("".join(f"\n  {line}" for line in lines)) + tail


async def _transfers_create(args: argparse.Namespace, state: RunState) -> int:
    settings = settings_from(args, need_ica=False, need_tapis=True)
    state.journal = check_journal(args.journal, settings)
    state.simulator = settings.simulator
    state.secrets = settings.secrets
    elements = read_transfer_pairs(args.file)
    groups = chunked(elements, args.per_task)
    # With a journal and no --tag the orchestrator names the tasks after its run, which a rerun
    # resumes; a random prefix would differ on every run and could not be resumed.
    fixed = args.tag or (None if args.journal else f"ita-{uuid.uuid4().hex[:12]}")
    requests = [
        TransferRequest(group, tag=f"{fixed}-{index:06d}" if fixed else None)
        for index, group in enumerate(groups)
    ]
    if args.dry_run:
        from ._dry_run import dry_run_transfers

        state.journal = None  # a dry run records nothing: an interrupted one has no resume
        return await dry_run_transfers(args, settings, requests)
    started: list[TransferOrchestrator] = []

    def prefix() -> str:
        return fixed or (f"ita-{started[0].run_id}" if started else "ita-")

    state.note = (
        f"transfer tasks already created keep running on the server (tags {prefix()}-*); "
        "list them with the Tapis API or cancel them by uuid"
    )
    async with connect(settings, ica=False, tapis=True) as conn:
        tapis = conn.need_tapis()
        with ProgressDisplay(enabled=not (args.quiet or args.json)) as display:
            bar = display.stage("transfers", len(requests))
            state.bars.append(bar)
            try:
                report = await run_transfer_requests(
                    tapis,
                    requests,
                    bar,
                    max_in_flight=args.max_tasks,
                    journal=args.journal,
                    started=started,
                )
            except anyio.get_cancelled_exc_class():
                # Interrupted: say which tasks exist on the server (a short, shielded lookup).
                lines: list[str] = []
                complete = False
                with anyio.CancelScope(shield=True), anyio.move_on_after(LOOKUP_S):
                    try:
                        lines = await _created_tasks(tapis, prefix(), len(requests) + 100)
                        complete = True
                    except (APIStatusError, APIConnectionError, ResponseValidationError):
                        complete = False
                state.note = _created_note(prefix(), lines, complete)
                if started:
                    state.run_id = started[0].run_id
                raise
            bar.finish()
        if report.outcomes and all(o.uuid is None for o in report.outcomes):
            await raise_if_unreachable(conn)
    if args.json:
        print_json(transfer_report_dict(report))
    else:
        console = _stdout()
        console.print(transfer_table(report, f"Tapis transfers: {plural(len(requests), 'task')}"))
        for failure in report.failures[:10]:
            console.print(
                f"  [red]{escape(failure.status)}[/] "
                + escape(f"task {failure.uuid} ({failure.tag}): {failure.error_message or ''}")
            )
    return 0 if not report.failures and len(report.outcomes) == len(requests) else 1
