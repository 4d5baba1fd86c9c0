"""``ica-tapis-async verify``: re-read a recorded run from the server and reconcile it with the
journal (exit 0 when they agree, 1 otherwise). Only GET requests are sent."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._redact import redact_url
from ..orchestrator import Journal, JournalUnavailableError, VerifyReport, verify_run
from ..orchestrator._journal_open import is_database_url, open_journal
from ..orchestrator._postgres_schema import SCHEMA_VERSION
from ._config import ConfigError, Settings, add_connection_flags, positive_int, settings_from
from ._journal import check_journal

if TYPE_CHECKING:
    from ._state import RunState

__all__ = ("add_verify_parser", "cmd_verify")

#: At most this many discrepancies are listed for people (``--json`` lists them all).
_SHOWN = 20


def add_verify_parser(commands: Any, formatter: Any) -> None:
    """The ``verify`` subcommand."""
    verify = commands.add_parser(
        "verify",
        help="re-read a recorded run from the server and compare it with its journal",
        description=(
            "Read back from the server every batch (or Tapis transfer task) the run recorded\n"
            "in its journal, item by item, and compare: statuses the server reports vs the\n"
            "journal's, items the server never reported, items the journal does not know,\n"
            "keys in two batches, chunks never finished. Sends only GET requests, paced by\n"
            "--rate / --shared-limit.\n\n"
            "exit codes: 0 server and journal agree; 1 they disagree (--json lists every\n"
            "discrepancy) or the server refused; 2 bad usage, no such journal or run."
        ),
        formatter_class=formatter,
    )
    verify.add_argument("--journal", required=True, metavar="FILE|URL", help="the run's journal")
    verify.add_argument(
        "--run-id",
        metavar="ID",
        help="the run to verify (default: the latest run of a SQLite journal)",
    )
    verify.add_argument(
        "--json", action="store_true", help="print the report, every discrepancy, as JSON"
    )
    verify.add_argument(
        "--max-batches",
        type=positive_int,
        default=8,
        metavar="N",
        help="batches or tasks read at once (default 8)",
    )
    verify.add_argument(
        "--shared-limit",
        metavar="URL",
        help="redis://… : share the rate budget of the workers using the same --limit-name",
    )
    verify.add_argument(
        "--shared-limit-password-file",
        metavar="FILE",
        help="read the --shared-limit password from FILE (its first line) rather than the URL; "
        "else $REDISCLI_AUTH, as redis-cli does",
    )
    verify.add_argument(
        "--limit-name", metavar="NAME", default="ica", help="the shared budget's name"
    )
    add_connection_flags(verify, tapis=True)


def _sqlite_run_id(path: str, run_id: str | None) -> str:
    """``run_id`` if the SQLite journal holds it, else its most recently started run; read
    only (opening a journal creates its tables: a file that holds none must stay as it is).

    Raises:
        ConfigError: not a journal, it holds no run, or not this one.
    """
    try:
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            query = "SELECT run_id FROM ita_runs_v2 ORDER BY started DESC, rowid DESC LIMIT 1"
            params: tuple[str, ...] = ()
            if run_id is not None:
                query, params = "SELECT run_id FROM ita_runs_v2 WHERE run_id = ?", (run_id,)
            row = db.execute(query, params).fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"--journal {path}: not a journal of this tool ({exc})") from None
    if row is None and run_id is None:
        raise ConfigError(f"--journal {path}: holds no run")
    if row is None:
        raise ConfigError(f"no run {run_id!r} in this journal")
    return str(row[0])


async def _open(args: argparse.Namespace) -> tuple[Journal, str]:
    """The journal (checked to exist and to hold the run, without writing: verify must not
    create one, nor its tables) and the run to verify."""
    from ._dry_run_journal import database_schema

    try:
        database = is_database_url(args.journal)
    except ValueError as exc:
        raise ConfigError(f"--{exc}") from None
    run_id = args.run_id
    if database:
        if run_id is None:
            raise ConfigError("--run-id is needed with a PostgreSQL journal")
        version = await database_schema(args.journal)
        if version is None:
            raise ConfigError(f"no run {run_id!r} in this journal (it holds no journal)")
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"--journal {redact_url(args.journal)}: the journal's schema is version "
                f"{version}, newer than this release's {SCHEMA_VERSION}: upgrade ica_tapis_async"
            )
    else:
        path = anyio.Path(args.journal)
        if not await path.is_file():
            raise ConfigError(f"--journal {args.journal}: no such file")
        if (await path.stat()).st_size == 0:
            raise ConfigError(f"--journal {args.journal}: an empty file, no run recorded")
        # Opening a SQLite journal creates its tables: a file that is not one is refused first.
        check_journal(args.journal, Settings())
        run_id = _sqlite_run_id(args.journal, run_id)
    journal, _owned = open_journal(args.journal)
    return journal, run_id


async def cmd_verify(args: argparse.Namespace, state: RunState) -> int:
    """Reconcile a recorded run with the server; 0 when they agree, 1 otherwise."""
    from ._connect import connect
    from ._status import shared_limiter

    if args.simulator:
        raise ConfigError(
            "verify reads a run from a server that remembers it: --simulator starts an empty "
            "one. Serve one with 'ica-tapis-async simulator --port 8080' and pass --base-url"
        )
    journal, run_id = await _open(args)
    try:
        run = await journal.get_run(run_id)
        if run is None:
            raise ConfigError(f"no run {run_id!r} in this journal")
        transfer = run.kind == "transfer"
        settings = settings_from(args, need_ica=not transfer, need_tapis=transfer)
        state.secrets = settings.secrets
        limiter = shared_limiter(args, rate=settings.rate)
        async with connect(settings, ica=not transfer, tapis=transfer, limiter=limiter) as conn:
            report = await verify_run(
                journal, run_id, ica=conn.ica, tapis=conn.tapis, max_in_flight=args.max_batches
            )
    except JournalUnavailableError as exc:
        raise ConfigError(f"--journal: {exc}") from None
    finally:
        await journal.aclose()
    _print(args, report)
    return 0 if report.ok else 1


def _print(args: argparse.Namespace, report: VerifyReport) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ._output import plural, print_json

    if args.json:
        print_json({**report.to_dict(), "journal": redact_url(args.journal)})
        return
    # User text (keys, statuses from the server) is printed literally: no markup, no emoji.
    console = Console(highlight=False, emoji=False, markup=False)
    console.print(
        Text(f"verify run {report.run_id}: {report.kind}, {plural(report.chunks, 'chunk')}")
    )
    table = Table()
    table.add_column("status")
    table.add_column("journal", justify="right")
    table.add_column("server", justify="right")
    for status in sorted({*report.journal_counts, *report.server_counts}):
        table.add_row(
            Text(status),
            f"{report.journal_counts.get(status, 0):,}",
            f"{report.server_counts.get(status, 0):,}",
        )
    table.add_section()
    table.add_row("batches read", "", f"{report.batches_read:,}")
    if report.never_sent:
        table.add_row("items never sent", f"{report.never_sent:,}", "-")
    table.add_row("requests (GET)", "", f"{report.requests:,}")
    console.print(table)
    if report.ok:
        console.print(f"server and journal agree on {plural(report.items, 'item')}")
        return
    problems = ", ".join(f"{count:,} {name}" for name, count in report.by_problem().items())
    console.print(
        f"{plural(len(report.discrepancies), 'discrepancy', 'discrepancies')}: {problems}"
    )
    for d in report.discrepancies[:_SHOWN]:
        said = [f"{side} {value}" for side, value in (("journal", d.journal), ("server", d.server))
                if value is not None]  # fmt: skip
        sides = f" ({', '.join(said)})" if said else ""
        key = f" {d.key}" if d.key is not None else ""
        console.print(
            Text(f"  {d.problem}: chunk {d.chunk}{key}, batch {d.batch_id}: {d.detail}{sides}")
        )
    if len(report.discrepancies) > _SHOWN:
        console.print(f"  … and {len(report.discrepancies) - _SHOWN:,} more (--json lists all)")
