"""Journal tools: ``runs`` (every run of a journal) and ``export`` (one line per item).

Both only read the journal; with ``status`` they answer "did it work?" and "what failed?" for
a scheduled run, and ``export --only-failed --format ids`` feeds the failures to a new run.
"""

from __future__ import annotations

import argparse
import csv
import io
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import orjson

from .._redact import redact_url
from ..orchestrator import ItemOutcome, Journal, JournalUnavailableError
from ..orchestrator._journal_open import is_database_url, open_journal
from ..orchestrator._journal_protocol import RunRecord
from ..orchestrator._journal_runs import list_runs
from ._config import ConfigError
from ._state import RunState

__all__ = (
    "EXPORT_COLUMNS",
    "add_journal_tool_parsers",
    "cmd_export",
    "cmd_runs",
    "current_run_id",
    "latest_run",
    "opened_journal",
)

#: The columns of ``export`` (CSV header, JSON Lines keys).
EXPORT_COLUMNS: Final = (
    "key",
    "status",
    "ok",
    "info",
    "batch_id",
    "item_id",
    "analysis_id",
    "chunk",
    "resubmitted",
    "in_doubt",
)


def add_journal_tool_parsers(commands: Any, formatter: Any) -> None:
    """The ``runs`` and ``export`` subcommands."""
    runs = commands.add_parser(
        "runs",
        help="list the runs of a journal (newest first)",
        description="List every run recorded in a journal (a SQLite file or a postgresql:// "
        "URL), newest first: id, kind, project, start and finish, items per final status, "
        "and the workers holding leases.",
        formatter_class=formatter,
    )
    runs.add_argument("--journal", required=True, metavar="FILE|URL", help="the journal")
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    export = commands.add_parser(
        "export",
        help="write one line per item of a run (CSV, JSON Lines or bare ids)",
        description="Write every item of a run that has its final status, one line each: "
        + ", ".join(EXPORT_COLUMNS)
        + ". Without --run-id, the journal's latest run. --only-failed --format ids gives "
        "the input of a run that retries them.",
        formatter_class=formatter,
    )
    export.add_argument("--journal", required=True, metavar="FILE|URL", help="the journal")
    export.add_argument("--run-id", metavar="ID", help="the run (default: the latest)")
    export.add_argument(
        "--format",
        choices=("csv", "jsonl", "ids"),
        default="csv",
        help="csv (default), jsonl, or ids (the keys only, one per line)",
    )
    export.add_argument(
        "--only-failed", action="store_true", help="only the items that did not succeed"
    )


@asynccontextmanager
async def opened_journal(spec: str) -> AsyncIterator[Journal]:
    """The existing journal ``spec`` (never creates an empty one where a path was mistyped).

    Raises:
        ConfigError: no such file, a directory it cannot use, or a database it cannot reach.
    """
    try:
        database = is_database_url(spec)
    except ValueError as exc:
        raise ConfigError(f"--{exc}") from None
    if not database:
        if not await anyio.Path(spec).is_file():
            raise ConfigError(f"--journal {spec}: no such file")
        from ._journal import check_writable

        check_writable(spec)
    journal, _owned = open_journal(spec)
    try:
        yield journal
    except JournalUnavailableError as exc:
        raise ConfigError(f"--journal: {exc}") from None
    finally:
        await journal.aclose()


async def latest_run(journal: Journal, spec: str) -> RunRecord:
    """The most recently started run of ``journal``.

    Raises:
        ConfigError: the journal has no run.
    """
    runs = await list_runs(journal)
    if not runs:
        raise ConfigError(f"--journal {redact_url(spec)}: no run recorded yet")
    return runs[0]


async def current_run_id(
    journal: Journal, run_id: str | None, kind: str, project_id: str
) -> str | None:
    """The id of the run a command was working on: ``run_id`` if it named one, else the
    latest run of its kind and project (the one the journal resumed or started), if any."""
    if run_id is not None:
        return run_id
    try:
        runs = await list_runs(journal)
    except (TypeError, JournalUnavailableError, sqlite3.Error):
        return None  # no journal to ask (or it is gone): the message just has no run id
    for run in runs:
        if run.kind == kind and run.project_id == project_id:
            return run.run_id
    return None


def _when(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def cmd_runs(args: argparse.Namespace, state: RunState) -> int:
    """List a journal's runs, newest first."""
    from ._status import run_status

    async with opened_journal(args.journal) as journal:
        rows = [await run_status(journal, run.run_id) for run in await list_runs(journal)]
    for row in rows:
        row["started"], row["finished"] = _when(row["started_at"]), _when(row["finished_at"])
    if args.json:
        from ._output import print_json

        print_json(rows)
        return 0
    _print_runs(rows, args.journal)
    return 0


def _print_runs(rows: list[dict[str, Any]], spec: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ._output import counts_line
    from ._status import progress_word

    console = Console(highlight=False, emoji=False)
    if not rows:
        console.print(f"no runs in {escape(redact_url(spec))}")
        return
    table = Table(title=escape(f"runs in {redact_url(spec)}"), title_justify="left")
    table.add_column("run id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("started (UTC)")
    table.add_column("finished")
    table.add_column("items", overflow="fold")
    table.add_column("leases")
    for row in rows:
        leases = sum(w["leases"] for w in row["workers"])
        table.add_row(
            escape(row["run_id"]),
            escape(row["kind"]),
            _short_time(row["started_at"]),
            _short_time(row["finished_at"]) or progress_word(row),
            escape(counts_line(row["items"])),
            f"{leases} ({len(row['workers'])} workers)" if leases else "-",
        )
    console.print(table)


def _short_time(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


def _export_rows(
    outcomes: Iterable[ItemOutcome], in_doubt: bool, only_failed: bool
) -> Iterable[dict[str, Any]]:
    for o in outcomes:
        if only_failed and o.ok:
            continue
        yield {
            "key": o.key,
            "status": o.status,
            "ok": o.ok,
            "info": o.info,
            "batch_id": o.batch_id,
            "item_id": o.item_id,
            "analysis_id": o.analysis_id,
            "chunk": o.chunk,
            "resubmitted": o.resubmitted,
            "in_doubt": in_doubt,
        }


def _render(rows: list[dict[str, Any]], fmt: str, header: bool) -> str:
    if fmt == "ids":
        return "".join(row["key"] + "\n" for row in rows)
    if fmt == "jsonl":
        return "".join(orjson.dumps(row).decode() + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


async def cmd_export(args: argparse.Namespace, state: RunState) -> int:
    """Write a run's items, one line each, chunk by chunk (a large run is never all in memory)."""
    written = pending = 0
    async with opened_journal(args.journal) as journal:
        if args.run_id is None:
            run = await latest_run(journal, args.journal)
        else:
            found = await journal.get_run(args.run_id)
            if found is None:
                raise ConfigError(f"no run {args.run_id!r} in this journal")
            run = found
        header = True
        for chunk in await journal.chunks(run.run_id):
            if not chunk.final:
                pending += 1
                continue
            outcomes = await journal.outcomes(run.run_id, chunk.index)
            rows = list(_export_rows(outcomes, chunk.in_doubt, args.only_failed))
            sys.stdout.write(_render(rows, args.format, header))
            header = False
            written += len(rows)
        if header and args.format == "csv":
            sys.stdout.write(_render([], "csv", True))
        sys.stdout.flush()
    note = f"{written:,} items of run {run.run_id} ({run.kind})"
    if pending:
        note += f"; {pending:,} chunks not finished yet (their items are not listed)"
    print(note, file=sys.stderr)
    return 0
