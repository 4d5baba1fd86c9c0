"""``--dry-run`` of ``link``, ``update``, ``analyses`` and ``transfers create``.

Every check of the real run (the whole input, the batch size, the run id, the journal and,
with ``--run-id``, that the journal's run has the same input), one cheap authenticated GET
for the credentials and the project, then the plan: batches, requests, and the time they take
at ``--rate``. Nothing that creates, updates or aborts is sent. Exit 0 when the run would
start, 2 otherwise.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from .._errors import APIConnectionError, APIStatusError, AuthenticationError
from .._redact import redact_url
from ..orchestrator._journal_open import is_database_url
from ..orchestrator._journal_protocol import END_DIGEST
from ..orchestrator._plan import (
    Chunk,
    Kind,
    check_batch_size,
    check_run_id,
    chunk_analyses,
    chunk_data_ids,
    chunk_update_groups,
    prevalidate,
)
from ._config import ConfigError, Settings

__all__ = ("add_dry_run_flag", "dry_run_batch", "dry_run_transfers")

EXIT_WOULD_START, EXIT_WOULD_NOT = 0, 2

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


def _recorded(path: str, run_id: str) -> tuple[tuple[str, str], dict[int, tuple[str, str]]] | None:
    """A SQLite journal's run (kind, project) and its entries (digest, state), read-only."""
    if is_database_url(path) or not Path(path).is_file() or Path(path).stat().st_size == 0:
        return None
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if "ita_runs_v2" not in names:
            return None
        run = db.execute(
            "SELECT kind, project_id FROM ita_runs_v2 WHERE run_id = ?", (run_id,)
        ).fetchone()
        if run is None:
            return None
        rows = db.execute(
            "SELECT idx, digest, state FROM ita_chunks_v2 WHERE run_id = ?", (run_id,)
        ).fetchall()
    finally:
        db.close()
    return (str(run[0]), str(run[1])), {int(i): (str(d), str(s)) for i, d, s in rows}


def _journal_plan(
    args: argparse.Namespace, kind: str, project: str, digests: list[str]
) -> tuple[dict[str, Any] | None, set[int]]:
    """What the journal holds for ``--run-id`` and its done entries; refuses input the run
    was not recorded with (the real run would stop at it with a JournalMismatchError)."""
    journal, run_id = getattr(args, "journal", None), getattr(args, "run_id", None)
    if journal is None:
        return None, set()
    shown = redact_url(journal)
    if run_id is None:
        return {"journal": shown, "run_id": None}, set()
    recorded = _recorded(journal, run_id)
    if recorded is None:
        return {"journal": shown, "run_id": run_id, "resumes": False, "done": 0}, set()
    (run_kind, run_project), entries = recorded
    if (run_kind, run_project) != (kind, project):
        raise ConfigError(
            f"--run-id {run_id}: the journal holds it as a {run_kind} run of project "
            f"{run_project or '-'}; pass another --run-id"
        )
    for index, (digest, _state) in sorted(entries.items()):
        given = digests[index] if index < len(digests) else END_DIGEST
        if digest == END_DIGEST and index == len(digests):
            continue
        if digest != given:
            raise ConfigError(
                f"--run-id {run_id}: entry {index} of the run was recorded with other input "
                "(other items, order or batch size); resume with the same input, or pass "
                "another --run-id"
            )
    done = {i for i, (d, state) in entries.items() if state == "done" and d != END_DIGEST}
    return {"journal": shown, "run_id": run_id, "resumes": True, "done": len(done)}, done


async def _check_access(settings: Settings, limiter: Any, *, tapis: bool = False) -> str:
    """One cheap authenticated GET (paced like the run); what it proved, or ConfigError."""
    from ._connect import connect

    try:
        async with connect(settings, ica=not tapis, tapis=tapis, limiter=limiter) as conn:
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
    project = settings.project or ""
    try:
        size = check_batch_size(batch_kind, settings.batch_size, None)
        if args.run_id is not None:
            check_run_id(args.run_id)
        prevalidate(batch_kind, items)
        chunks = [chunk async for chunk in _chunks(batch_kind, items, size)]
        journal, done = _journal_plan(args, batch_kind, project, [c.digest for c in chunks])
    except BaseException:
        if limiter is not None:  # connect() would have closed it
            await limiter.aclose()
        raise
    to_send = [c for c in chunks if c.index not in done]
    per_batch = _PER_BATCH[batch_kind]
    requests = 1 + sum(per_batch + math.ceil(len(c.keys) / 1000) - 1 for c in to_send)
    access = await _check_access(settings, limiter)
    plan = {
        "command": label,
        "would_start": True,
        "project_id": project,
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
    }
    _print(args, plan, f"{plural_items(expected)} in {len(chunks)} batches of up to {size}")
    return EXIT_WOULD_START


async def dry_run_transfers(
    args: argparse.Namespace, settings: Settings, requests: Sequence[Any]
) -> int:
    """Check everything a ``transfers create`` run checks, and print its plan."""
    journal = None
    if args.journal is not None:
        journal = {"journal": redact_url(args.journal), "run_id": None}
    count = _PER_TASK * len(requests) + 1
    access = await _check_access(settings, None, tapis=True)
    elements = sum(len(r.elements) for r in requests)
    plan = {
        "command": "transfers create",
        "would_start": True,
        "tasks": len(requests),
        "elements": elements,
        "tasks_at_once": args.max_tasks,
        "requests_at_least": count,
        **_timing(count, settings.rate),
        "journal": journal,
        "access": access,
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
        lines.append(f"  {plan['batches_at_once']} batches at once")
    journal = plan.get("journal")
    if journal:
        if journal.get("resumes"):
            lines.append(
                f"  journal {journal['journal']}: resumes run {journal['run_id']}, "
                f"{journal['done']} of {plan['batches']} batches already done"
            )
        else:
            lines.append(f"  journal {journal['journal']}: records the run")
    lines.append(f"  requests: at least {plan['requests_at_least']:,} (more polls while it runs)")
    if plan["rate"] is None:
        lines.append("  time: no --rate given: paced by the server's rate limits")
    else:
        lines.append(f"  time at --rate {plan['rate']:g}/s: at least {plan['seconds_at_rate']:,} s")
    lines.append(f"  {plan['access']}")
    lines.append("Nothing was created, updated or aborted. Run it without --dry-run to start.")
    for line in lines:
        console.print(line, soft_wrap=True)
