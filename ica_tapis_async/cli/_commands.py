"""The batch subcommands ``link``, ``update`` and ``analyses`` (``transfers``: ``_transfers``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio
from rich.console import Console

from ..orchestrator import BatchOrchestrator, BatchReport
from ._config import Settings, settings_from
from ._connect import connect, raise_if_unreachable
from ._inputs import (
    UpdateChanges,
    parse_future,
    read_data_ids,
    read_sample_sheet,
    read_update_groups,
)
from ._journal import check_journal
from ._journal_tools import current_run_id
from ._output import batch_table, plural, print_failures, print_json
from ._progress import ProgressDisplay
from ._state import RunState
from ._status import shared_limiter
from ._transfers import cmd_transfers

__all__ = (
    "cmd_analyses",
    "cmd_link",
    "cmd_transfers",
    "cmd_update",
    "display_for",
)


#: How long an interrupted run may spend finding its run id in the journal.
_RUN_ID_LOOKUP_S = 2.0


def _stdout() -> Console:
    return Console(highlight=False, emoji=False)


def display_for(args: argparse.Namespace) -> ProgressDisplay:
    """The progress bars of a command: none with ``--quiet`` or ``--json``."""
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
    state.journal = check_journal(args.journal, settings)
    state.simulator = settings.simulator
    state.secrets = settings.secrets
    limiter = shared_limiter(args, rate=settings.rate)
    if args.dry_run:
        from ._dry_run import dry_run_batch

        state.journal = None  # a dry run records nothing: an interrupted one has no resume
        return await dry_run_batch(
            args, settings, limiter, kind=kind, items=items, expected=expected, label=label
        )
    async with connect(settings, limiter=limiter) as conn:
        with display_for(args) as display:
            bar = display.stage(label, expected)
            state.bars.append(bar)
            orchestrator = BatchOrchestrator(
                conn.need_ica(),
                conn.need_project(),
                batch_size=settings.batch_size,
                max_inflight_batches=settings.max_batches,
                journal=args.journal,
                run_id=args.run_id,
                progress=bar,
                resend_in_doubt=getattr(args, "resend_in_doubt", False),
            )
            try:
                if kind == "link":
                    report = await orchestrator.link(items)
                elif kind == "update":
                    report = await orchestrator.update(items)
                else:
                    report = await orchestrator.create_analyses(items)
            except BaseException:
                if args.journal:
                    # Interrupted or failed: name the run, for status, export and a resume.
                    with anyio.CancelScope(shield=True), anyio.move_on_after(_RUN_ID_LOOKUP_S):
                        state.run_id = await current_run_id(
                            orchestrator.journal, args.run_id, kind, conn.need_project()
                        )
                raise
            finally:
                # Async: a PostgreSQL journal's pool must be closed on the event loop.
                await orchestrator.aclose()
            bar.finish()
        if args.journal:
            # A run that ends as a failure below (nothing reachable) names itself too.
            state.run_id = report.run_id
        if report.failures and len(report.failures) == report.total:
            await raise_if_unreachable(conn)
    return _print_batch_report(args, report, expected, label)


def _print_batch_report(
    args: argparse.Namespace, report: BatchReport, expected: int, label: str
) -> int:
    lost = expected - report.total
    if args.json:
        print_json({**report.to_dict(), "expected": expected, "lost": lost})
    else:
        console = _stdout()
        console.print(batch_table(report, f"{label}: {plural(expected, 'input item')}", expected))
        if report.failures:
            console.print(f"[red]{plural(len(report.failures), 'item')} did not succeed:[/]")
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

    def when(value: str | None, flag: str) -> datetime | None:
        if value is None:
            return None
        try:
            return parse_future(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{flag}: {exc}") from None

    def tags(values: list[str] | None, flag: str) -> tuple[str, ...]:
        for value in values or ():
            if not value.strip():
                raise argparse.ArgumentTypeError(f"{flag}: empty tag")
        return tuple(value.strip() for value in values or ())

    return UpdateChanges(
        tags(args.add_tag, "--add-tag"),
        tags(args.remove_tag, "--remove-tag"),
        tags(args.add_technical_tag, "--add-technical-tag"),
        tags(args.remove_technical_tag, "--remove-technical-tag"),
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
