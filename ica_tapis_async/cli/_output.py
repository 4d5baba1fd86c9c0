"""Printing reports: rich tables for people, JSON (``--json``) for programs."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..orchestrator import BatchReport, TransferReport

__all__ = (
    "batch_table",
    "plural",
    "short_id",
    "print_json",
    "transfer_report_dict",
    "transfer_table",
)

#: At most this many failures are listed in a table (``--json`` lists them all).
MAX_FAILURES_SHOWN = 10


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``"1 item"``, ``"2 items"``, ``"1,000 items"``."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}"


def short_id(value: str, keep: int = 8) -> str:
    """A long id cut for a narrow table: ``3fa85f64…``; short ids stay whole."""
    return value if len(value) <= keep + 4 else value[:keep] + "…"


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    sys.stdout.flush()


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def batch_table(report: BatchReport, title: str, expected: int | None = None) -> Table:
    """A table of a run: items per final status, then the run's figures."""
    table = Table(title=title, title_justify="left", show_footer=False)
    table.add_column("status")
    table.add_column("items", justify="right")
    for status, count in sorted(report.counts.items()):
        style = None if status not in _FAILED else "red"
        table.add_row(escape(status), f"{count:,}", style=style)
    table.add_section()
    table.add_row("total", f"{report.total:,}")
    if expected is not None and expected != report.total:
        table.add_row("LOST", f"{expected - report.total:,}", style="bold red")
    table.add_row("failed", f"{len(report.failures):,}", style="red" if report.failures else None)
    table.add_section()
    table.add_row("run id", escape(report.run_id))
    table.add_row("batches", f"{report.batches:,}")
    table.add_row("requests", f"{report.requests:,} ({report.retries:,} retries)")
    table.add_row("throttled (429)", f"{report.throttled:,}")
    if report.resubmitted:
        table.add_row("resubmitted", f"{report.resubmitted:,}")
    table.add_row("time", f"{report.elapsed_s:,.1f} s ({_rate(report.total, report.elapsed_s)})")
    return table


_FAILED = frozenset(
    {
        "FAILED",
        "PARTIALLY_LINKED",
        "PARTIALLY_UPDATED",
        "REJECTED",
        "NOT_SUBMITTED",
        "UNKNOWN",
        "MISSING",
    }
)


def print_failures(console: Console, failures: Iterable[Any]) -> None:
    """List the failures grouped by status and reason: count and a few example keys each."""
    groups: dict[tuple[str, str], list[str]] = {}
    for failure in failures:
        groups.setdefault((failure.status, failure.info or ""), []).append(failure.key)
    for shown, ((status, info), keys) in enumerate(groups.items()):
        if shown == MAX_FAILURES_SHOWN:
            rest = sum(len(k) for k in list(groups.values())[shown:])
            console.print(f"  … and {rest:,} more (use --json for all)")
            return
        examples = ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "")
        reason = f": {info}" if info else ""
        console.print(
            f"  [red]{escape(status)}[/] x {len(keys):,} ({escape(examples)}){escape(reason)}",
            highlight=False,
        )


def transfer_report_dict(report: TransferReport) -> dict[str, Any]:
    """A JSON-ready summary of a transfer run (every task with its final status)."""
    return {
        "run_id": report.run_id,
        "total": len(report.outcomes),
        "counts": dict(sorted(report.counts.items())),
        "tasks": [
            {
                "index": o.index,
                "uuid": o.uuid,
                "tag": o.tag,
                "status": o.status,
                "error_message": o.error_message,
                "total_transfers": o.total_transfers,
                "complete_transfers": o.complete_transfers,
                "recovered": o.recovered,
            }
            for o in report.outcomes
        ],
        "requests": report.requests,
        "throttled": report.throttled,
        "elapsed_s": round(report.elapsed_s, 3),
    }


def transfer_table(report: TransferReport, title: str) -> Table:
    """A table of a Tapis transfer run: tasks per final status and the run's figures."""
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("tasks", justify="right")
    for status, count in sorted(report.counts.items()):
        table.add_row(escape(status), f"{count:,}", style=None if status == "COMPLETED" else "red")
    table.add_section()
    table.add_row("total", f"{len(report.outcomes):,}")
    files = sum(o.complete_transfers or 0 for o in report.outcomes)
    table.add_row("files copied", f"{files:,}")
    table.add_row("requests", f"{report.requests:,}")
    table.add_row("throttled (429)", f"{report.throttled:,}")
    table.add_row("time", f"{report.elapsed_s:,.1f} s")
    return table


def counts_line(counts: Mapping[str, int]) -> str:
    """``"LINKED 10 · FAILED 2"``."""
    return " · ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "nothing"
