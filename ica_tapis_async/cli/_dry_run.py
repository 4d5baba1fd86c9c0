"""``--dry-run`` of ``link``, ``update``, ``analyses`` and ``transfers create``.

Every check of the real run, made by the real code: the orchestrator is started with a
stand-in journal that answers ``open_run`` from a copy of the real journal (so a journal run
recorded with other input or options is refused as the run would refuse it) and then stops
it, before anything is sent. Then the chunks are compared with the journal's, one cheap
authenticated GET checks the credentials and the project, and the plan is printed: batches,
requests, and the time they take at ``--rate``. Nothing that creates, updates or aborts is
sent and the journal is not written. Exit 0 when the run would start, 2 otherwise.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .._errors import APIConnectionError, APIStatusError, AuthenticationError
from .._redact import redact_url
from ..orchestrator import BatchOrchestrator, TransferOrchestrator
from ..orchestrator._plan import (
    Chunk,
    Kind,
    check_batch_size,
    chunk_analyses,
    chunk_data_ids,
    chunk_update_groups,
)
from ._config import ConfigError, Settings
from ._connect import Connection, connect
from ._dry_run_journal import (
    StandInJournal,
    journal_copy,
    journal_plan,
    stop_at_open,
    transfer_digests,
)

__all__ = ("add_dry_run_flag", "dry_run_batch", "dry_run_transfers")

#: A refused dry run exits 2 as a ConfigError, like every other usage error.
EXIT_WOULD_START = 0

#: The fewest requests one batch takes: the create, one poll, and reading the outcome
#: (links and updates: a count and the items not in the usual status; analyses: the items).
_PER_BATCH: dict[Kind, int] = {"link": 4, "update": 4, "analysis": 3}
_KINDS: dict[str, Kind] = {"link": "link", "update": "update", "analysis": "analysis"}
#: A Tapis task: the create and one status read.
_PER_TASK = 2


def add_dry_run_flag(parser: Any) -> None:
    """``--dry-run`` for a command that creates or updates."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the input, credentials and project and print the plan; send nothing that "
        "creates, updates or aborts (exit 0: the run would start, 2: it would not)",
    )


def _chunks(kind: Kind, items: Sequence[Any], size: int) -> AsyncIterator[Chunk]:
    if kind == "link":
        return chunk_data_ids(items, size)
    if kind == "update":
        return chunk_update_groups(items, size)
    return chunk_analyses(items, size)


async def _check_access(conn: Connection, settings: Settings, *, tapis: bool = False) -> str:
    """One cheap authenticated GET (paced like the run); what it proved, or ConfigError."""
    try:
        if tapis:
            await conn.need_tapis().transfers.list_recent(page_size=1).first_page()
            return "Tapis token accepted (one GET of the recent transfer tasks)"
        project = conn.need_project()
        await conn.need_ica().data_transfers.list(project, page_size=1).first_page()
        return f"credentials and project accepted (one GET of project {project}'s transfers)"
    except AuthenticationError as exc:
        raise ConfigError(f"the server refused the credentials: {exc}") from None
    except APIStatusError as exc:
        where = "the Tapis server" if tapis else f"project {settings.project}"
        raise ConfigError(f"{where}: {type(exc).__name__}: {exc}") from None
    except APIConnectionError as exc:
        raise ConfigError(f"cannot reach the server: {exc}") from None


#: How the plan names each connection setting whose source it shows.
_SETTING_NAMES: dict[str, str] = {
    "base_url": "server",
    "api_key": "API key",
    "access_token": "access token",
    "project": "project",
    "tapis_base_url": "Tapis server",
    "tapis_token": "Tapis token",
}
_TAPIS_SETTINGS = ("tapis_base_url", "tapis_token")


def _sources(settings: Settings, *, tapis: bool = False) -> dict[str, str]:
    """Where each setting the run uses came from (a flag, a variable, a file), never its value."""
    keys = (
        _TAPIS_SETTINGS if tapis else tuple(k for k in _SETTING_NAMES if k not in _TAPIS_SETTINGS)
    )
    return {k: source for k in keys if (source := settings.sources.get(k))}


def _timing(requests: int, rate: float | None) -> dict[str, Any]:
    if rate is None:
        return {"rate": None, "seconds_at_rate": None}
    return {"rate": rate, "seconds_at_rate": round(requests / rate, 1)}


async def dry_run_batch(
    args: argparse.Namespace,
    settings: Settings,
    limiter: Any,
    *,
    kind: str,
    items: Sequence[Any],
    expected: int,
    label: str,
) -> int:
    """Check everything a ``link``/``update``/``analyses`` run checks, and print its plan."""
    batch_kind = _KINDS[kind]
    async with connect(settings, limiter=limiter) as conn, journal_copy(args.journal) as copy:
        spy = StandInJournal(copy)
        orchestrator = BatchOrchestrator(
            conn.need_ica(),
            conn.need_project(),
            batch_size=settings.batch_size,
            max_inflight_batches=settings.max_batches,
            journal=spy,
            run_id=args.run_id,
        )
        start = {"link": orchestrator.link, "update": orchestrator.update}.get(
            batch_kind, orchestrator.create_analyses
        )
        await stop_at_open(start, items, copy, redact_url(args.journal or ""))
        size = check_batch_size(batch_kind, settings.batch_size, None)
        chunks = [chunk async for chunk in _chunks(batch_kind, items, size)]
        digests = [c.digest for c in chunks]
        journal, done = await journal_plan(args, spy, lambda _run: digests)
        access = await _check_access(conn, settings)
    to_send = [c for c in chunks if c.index not in done]
    requests = 1 + sum(_PER_BATCH[batch_kind] + math.ceil(len(c.keys) / 1000) - 1 for c in to_send)
    plan = {
        "command": label,
        "would_start": True,
        "project_id": settings.project,
        "items": expected,
        "sent_once": sum(len(c.duplicates) for c in chunks),
        "batches": len(chunks),
        "batch_size": size,
        "batches_at_once": settings.max_batches,
        "batches_to_send": len(to_send),
        "requests_at_least": requests,
        **_timing(requests, settings.rate),
        "journal": journal,
        "access": access,
        "settings": _sources(settings),
    }
    batches = f"{len(chunks):,} batch" + ("" if len(chunks) == 1 else "es")
    _print(args, plan, f"{plural_items(expected)} in {batches} of up to {size:,}")
    return EXIT_WOULD_START


async def dry_run_transfers(
    args: argparse.Namespace, settings: Settings, requests: Sequence[Any]
) -> int:
    """Check everything a ``transfers create`` run checks, and print its plan."""
    async with connect(settings, ica=False, tapis=True) as conn:
        async with journal_copy(args.journal) as copy:
            journal, done = None, set[int]()
            if args.journal is not None:
                # Without a journal the orchestrator opens no run to stop at: the requests
                # (pairs read and checked, grouped per task) are all its input checks.
                spy = StandInJournal(copy)
                orchestrator = TransferOrchestrator(
                    conn.need_tapis(), max_in_flight=args.max_tasks, journal=spy
                )
                await stop_at_open(orchestrator.run, requests, copy, redact_url(args.journal))
                journal, done = await journal_plan(args, spy, transfer_digests(requests))
        access = await _check_access(conn, settings, tapis=True)
    to_create = len(requests) - len(done)
    count = _PER_TASK * to_create + 1
    elements = sum(len(r.elements) for r in requests)
    plan = {
        "command": "transfers create",
        "would_start": True,
        "tasks": len(requests),
        "elements": elements,
        "tasks_at_once": args.max_tasks,
        "tasks_to_create": to_create,
        "requests_at_least": count,
        **_timing(count, settings.rate),
        "journal": journal,
        "access": access,
        "settings": _sources(settings, tapis=True),
    }
    _print(args, plan, f"{elements:,} transfer elements in {len(requests):,} Tapis tasks")
    return EXIT_WOULD_START


def plural_items(count: int) -> str:
    """``"1 item"``, ``"25 items"``."""
    return f"{count:,} item" + ("" if count == 1 else "s")


def _print(args: argparse.Namespace, plan: dict[str, Any], what: str) -> None:
    from rich.console import Console

    from ._output import print_json

    if args.json:
        print_json({"dry_run": True, **plan})
        return
    console = Console(highlight=False, emoji=False, markup=False)
    lines = [f"dry run of {plan['command']}: {what}"]
    if plan.get("sent_once"):
        lines.append(f"  {plan['sent_once']:,} repeated in a batch: sent once")
    if "batches_at_once" in plan:
        lines.append(f"  at most {plan['batches_at_once']} batches in flight at once")
    journal = plan.get("journal")
    if journal:
        if journal.get("resumes"):
            # A batch run's plan counts batches; a transfers run's, Tapis tasks.
            total, unit = (
                (plan["batches"], "batches") if "batches" in plan else (plan["tasks"], "tasks")
            )
            lines.append(
                f"  journal {journal['journal']}: resumes run {journal['run_id']}, "
                f"{journal['done']} of {total} {unit} already done"
            )
        else:
            note = f" ({journal['note']})" if journal.get("note") else ""
            lines.append(f"  journal {journal['journal']}: records the run{note}")
    lines.append(f"  requests: at least {plan['requests_at_least']:,} (more polls while it runs)")
    if plan["rate"] is None:
        lines.append("  time: no --rate given: paced by the server's rate limits")
    else:
        lines.append(f"  time at --rate {plan['rate']:g}/s: at least {plan['seconds_at_rate']:,} s")
    lines.append(f"  {plan['access']}")
    if plan["settings"]:
        named = (f"{_SETTING_NAMES[k]} from {v}" for k, v in plan["settings"].items())
        lines.append("  settings: " + ", ".join(named))
    lines.append("Nothing was created, updated or aborted. Run it without --dry-run to start.")
    for line in lines:
        console.print(line, soft_wrap=True)
