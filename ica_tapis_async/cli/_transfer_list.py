"""``transfers list``: the project's ICA data transfers, as a table that fits the terminal.

Its ``--status``, ``--direction`` and ``--sort`` are checked here, before anything is sent: the
server would refuse them with a 400 that reads as a failure of the run, not of the command line.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

import attrs
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._converter import unstructure
from ..models import DataTransfer
from ._output import plural, print_json, short_id
from ._usage import UsageError

__all__ = ("STATUSES", "check_listing", "transfers_list")

#: A terminal this wide shows whole ids and the status messages.
WIDE: Final = 120
#: The statuses of an ICA data transfer (the spec's DataTransfer.status).
STATUSES: Final = (
    "REQUESTED",
    "ONGOING",
    "SUCCEEDED",
    "FAILED",
    "ABORTED",
    "ABORTREQUESTED",
    "SCHEDULED",
)
#: The fields getDataTransfers can sort on (the spec's list for its ``sort`` parameter).
SORT_FIELDS: Final = (
    "reference",
    "direction",
    "connector",
    "protocol",
    "dataTransferred",
    "status",
    "statusMessage",
    "duration",
)


def check_status(text: str | None, flag: str = "--status") -> str | None:
    """``text`` as ICA spells it (upper case), or :class:`UsageError` naming the known ones."""
    if text is None:
        return None
    status = text.strip().upper()
    if status not in STATUSES:
        raise UsageError(f"{flag} {text!r}: not a transfer status; one of {', '.join(STATUSES)}")
    return status


def check_sort(text: str | None) -> str | None:
    """A ``--sort`` the server accepts (``'status, dataTransferred desc'``), or UsageError."""
    if text is None:
        return None
    terms = []
    for term in text.split(","):
        words = term.split()
        bad = (
            len(words) not in (1, 2)
            or words[0] not in SORT_FIELDS
            or (len(words) == 2 and words[1].lower() not in ("asc", "desc"))
        )
        if bad:
            raise UsageError(
                f"--sort {text!r}: {term.strip()!r} is not FIELD [asc|desc]; fields: "
                + ", ".join(SORT_FIELDS)
            )
        terms.append(" ".join(words[:1] + [w.lower() for w in words[1:]]))
    return ", ".join(terms)


def check_listing(args: argparse.Namespace) -> None:
    """Check and normalise the listing's (or abort's) ``--status`` and ``--sort`` in place."""
    args.status = check_status(args.status)
    if hasattr(args, "sort"):
        args.sort = check_sort(args.sort)


def _stdout() -> Console:
    return Console(highlight=False, emoji=False)


async def transfers_list(args: argparse.Namespace, ica: Any, project: str) -> int:
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
    wide = console.width >= WIDE
    ids = [t.id if wide else short_id(t.id) for t in transfers]
    columns = _listing_columns(transfers, ids, wide)
    # Columns that do not fit are left out, least useful first; id and status always stay.
    shown = columns
    while len(shown) > 2 and not _fits(console, shown):
        shown = shown[:-1]
    table = _listing_table(shown, console.width)
    # The title is printed on its own: a table crops its title to the table's width.
    console.print(f"data transfers of project {escape(project)}", overflow="fold")
    console.print(table)
    left_out = [c.header for c in columns[len(shown) :]]
    console.print(plural(len(transfers), "transfer"))
    notes = []
    if not wide and transfers:
        notes.append("ids shortened")
    if left_out:
        notes.append(f"{', '.join(left_out)} left out")
    if left_out:
        console.print(f"({'; '.join(notes)}: --json or a wider terminal shows everything)")
    elif notes:
        console.print("(ids shortened: --json or a wider terminal shows them whole)")
    return 0


@attrs.frozen
class _Column:
    header: str
    values: list[str]
    options: dict[str, Any]


def _listing_columns(transfers: list[DataTransfer], ids: list[str], wide: bool) -> list[_Column]:
    """The listing's columns, most useful first (the last ones are left out when narrow)."""

    def fixed(header: str, values: list[str], **options: Any) -> _Column:
        width = max([len(header), *map(len, values)])
        return _Column(header, values, {"min_width": width, **options})

    columns = [
        fixed("id", ids),
        fixed("status", [t.status for t in transfers]),
        fixed("transferred", [_size(t.data_transferred) for t in transfers], justify="right"),
        # The reference gives way to the others, down to a readable part of it.
        _Column(
            "reference",
            [t.reference for t in transfers],
            {"max_width": 48, "min_width": 12},
        ),
        fixed("direction", [t.direction for t in transfers]),
    ]
    if wide:
        columns.append(
            _Column(
                "message",
                [t.status_message or "" for t in transfers],
                {"max_width": 60, "min_width": 20},
            )
        )
    return columns


def _listing_table(columns: list[_Column], width: int) -> Table:
    """The table, each column given its exact width: rich would crop a table it cannot shrink."""
    spare = width - (sum(c.options["min_width"] + 3 for c in columns) + 1)
    table = Table()
    for column in columns:
        size = column.options["min_width"]
        if "max_width" in column.options:  # a flexible column: it takes what is left
            wanted = max([len(column.header), *map(len, column.values)])
            grow = max(0, min(size + spare, column.options["max_width"], wanted) - size)
            size, spare = size + grow, spare - grow
        table.add_column(
            column.header,
            width=size,
            no_wrap=True,
            overflow="ellipsis",
            justify=column.options.get("justify", "left"),
        )
    for row in zip(*(c.values for c in columns), strict=True):
        table.add_row(*(escape(value) for value in row))
    return table


def _fits(console: Console, columns: list[_Column]) -> bool:
    # Each column takes its least width, a space either side and a border; plus the last border.
    needed: int = sum(c.options["min_width"] + 3 for c in columns) + 1
    return needed <= console.width


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{count} B"
