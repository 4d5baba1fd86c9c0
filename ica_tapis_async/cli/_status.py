"""``ica-tapis-async status``: a run's progress across all its workers, read from the journal.

Also the scale-out flags of the batch commands (``--run-id``, ``--shared-limit``,
``--limit-name``) and the shared limiter they build, so that the parser and the commands need
one line each.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from .._redact import redact_url
from ..orchestrator import ChunkRecord, Journal
from ._config import ConfigError

if TYPE_CHECKING:
    from rich.table import Table

    from ._state import RunState

__all__ = (
    "add_scaleout_flags",
    "add_status_parser",
    "cmd_status",
    "progress_word",
    "run_status",
    "shared_limiter",
    "status_table",
)

_STATES = ("planned", "sending", "submitted", "done")


def add_scaleout_flags(group: Any) -> None:
    """``--run-id``, ``--shared-limit`` and ``--limit-name`` for a batch command's run group."""
    group.add_argument(
        "--run-id",
        metavar="ID",
        help="name the run: workers with the same --run-id and --journal share its batches",
    )
    group.add_argument(
        "--shared-limit",
        metavar="URL",
        help="redis://… : share one rate budget with every worker using the same --limit-name",
    )
    group.add_argument(
        "--shared-limit-password-file",
        metavar="FILE",
        help="read the --shared-limit password from FILE (its first line) rather than the URL; "
        "else $REDISCLI_AUTH, as redis-cli does",
    )
    group.add_argument(
        "--limit-name",
        metavar="NAME",
        default="ica",
        help="the shared budget's name (default 'ica'; one per tenant and credential)",
    )


def add_status_parser(commands: Any, formatter: Any) -> None:
    """The ``status`` subcommand."""
    status = commands.add_parser(
        "status",
        help="progress of a run across all its workers (from its journal)",
        description="Read a run's journal (a SQLite file or a postgresql:// URL) and print its "
        "chunks per state, items per final status, and the workers holding leases. Without "
        "--run-id, the journal's latest run.",
        formatter_class=formatter,
    )
    status.add_argument("--journal", required=True, metavar="FILE|URL", help="the run's journal")
    status.add_argument("--run-id", metavar="ID", help="the run (default: the latest)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")


def shared_limiter(args: argparse.Namespace, *, rate: float | None) -> Any:
    """The :class:`RedisRateLimiter` ``--shared-limit`` asks for, or ``None``.

    Raises:
        ConfigError: the URL is not a Redis URL, or the ``redis`` extra is missing.
    """
    url = getattr(args, "shared_limit", None)
    password_file = getattr(args, "shared_limit_password_file", None)
    if not url:
        if password_file is not None:
            raise ConfigError("--shared-limit-password-file needs --shared-limit URL")
        return None
    from .._concurrency._redis_limiter import RedisRateLimiter

    password = _redis_password(password_file)
    try:
        return RedisRateLimiter(url, args.limit_name, rate=rate, password=password)
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"--shared-limit {redact_url(url)}: {exc}") from None


def _redis_password(path: str | None) -> str | None:
    """The Redis password from ``--shared-limit-password-file`` or ``$REDISCLI_AUTH``: never on
    the command line, where other users of the machine see it (``ps``) and shells keep it."""
    if path is None:
        return os.environ.get("REDISCLI_AUTH") or None
    try:
        with open(path, encoding="utf-8") as file:
            password = file.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"--shared-limit-password-file {path}: cannot read it: {reason}"
        ) from None
    if not password:
        raise ConfigError(f"--shared-limit-password-file {path}: its first line is empty")
    return password


async def run_status(journal: Journal, run_id: str, *, now: float | None = None) -> dict[str, Any]:
    """A run's progress as plain data (what ``status --json`` prints).

    Raises:
        ConfigError: the journal has no such run.
    """
    run = await journal.get_run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id!r} in this journal")
    if now is None:
        # Lease times are on the journal's clock (a database's, for PostgreSQL): a machine
        # whose clock is off must not show live leases as expired, or the reverse.
        clock = getattr(journal, "clock", None)
        now = await clock() if clock is not None else time.time()
    chunks = await journal.chunks(run_id)
    counts = getattr(journal, "item_counts", None)
    if counts is not None:
        items: dict[str, int] = await counts(run_id)
    else:
        tally: Counter[str] = Counter()
        for chunk in chunks:
            if chunk.final:
                tally.update(o.status for o in await journal.outcomes(run_id, chunk.index))
        items = dict(tally)
    by_state: Counter[str] = Counter(chunk.state for chunk in chunks)
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "project_id": run.project_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "chunks": {"seen": len(chunks), **{state: by_state.get(state, 0) for state in _STATES}},
        "items": dict(sorted(items.items())),
        "in_doubt": sum(chunk.in_doubt for chunk in chunks),
        "resubmitted": sum(chunk.resubmitted for chunk in chunks),
        "workers": _workers(chunks, now),
    }


def _workers(chunks: list[ChunkRecord], now: float) -> list[dict[str, Any]]:
    held: dict[str, list[ChunkRecord]] = {}
    for chunk in chunks:
        if chunk.owner is not None and not chunk.final:
            held.setdefault(chunk.owner, []).append(chunk)
    workers = []
    for owner, leases in sorted(held.items()):
        live = [c for c in leases if (c.lease_expires_at or 0.0) > now]
        workers.append(
            {
                "owner": owner,
                "leases": len(live),
                "expired_leases": len(leases) - len(live),
                "chunks": [c.index for c in leases],
                "next_expiry_s": (
                    round(min(c.lease_expires_at or 0.0 for c in live) - now, 1) if live else None
                ),
            }
        )
    return workers


def progress_word(status: dict[str, Any]) -> str:
    """``finished``; ``running`` while a worker holds a live lease; else ``unfinished`` (it
    was stopped or crashed: nobody is working on it, the same command resumes it)."""
    if status["finished_at"] is not None:
        return "finished"
    return "running" if any(w["leases"] for w in status["workers"]) else "unfinished"


def status_table(status: dict[str, Any]) -> Table:
    """The status for people."""
    # rich is imported here, not at the top: the parser imports this module, and --help must
    # work without the cli extra.
    from rich.markup import escape
    from rich.table import Table

    finished = progress_word(status)
    table = Table(
        title=escape(f"run {status['run_id']}: {status['kind']}, {finished}"),
        title_justify="left",
    )
    table.add_column("")
    table.add_column("", justify="right")
    chunks = status["chunks"]
    table.add_row("chunks seen", f"{chunks['seen']:,}")
    for state in _STATES:
        table.add_row(f"  {state}", f"{chunks[state]:,}")
    table.add_section()
    for name, count in status["items"].items():
        table.add_row(escape(f"items {name}"), f"{count:,}")
    table.add_row("items final", f"{sum(status['items'].values()):,}")
    if status["in_doubt"] or status["resubmitted"]:
        table.add_row("chunks in doubt", f"{status['in_doubt']:,}")
        table.add_row("chunks resubmitted", f"{status['resubmitted']:,}")
    table.add_section()
    for worker in status["workers"]:
        expiry = worker["next_expiry_s"]
        detail = f"{worker['leases']} leases" + (
            f", next expiry in {expiry:.1f} s" if expiry is not None else ""
        )
        if worker["expired_leases"]:
            detail += f", {worker['expired_leases']} expired (to be taken over)"
        table.add_row(escape(worker["owner"]), detail)
    if not status["workers"]:
        table.add_row("workers", "none holding leases")
    return table


async def cmd_status(args: argparse.Namespace, state: RunState) -> int:
    """Print a run's progress across its workers."""
    from ._journal_tools import latest_run, opened_journal
    from ._output import print_json  # rich, which --help must not need

    async with opened_journal(args.journal) as journal:
        run_id = args.run_id or (await latest_run(journal, args.journal)).run_id
        status = await run_status(journal, run_id)
    status["journal"] = redact_url(args.journal)
    if args.json:
        print_json(status)
    else:
        from rich.console import Console

        Console(highlight=False, emoji=False).print(status_table(status))
    return 0
