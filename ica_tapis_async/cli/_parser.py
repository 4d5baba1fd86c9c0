"""The argument parser of ``ica-tapis-async`` and its help texts."""

from __future__ import annotations

import argparse

from .._version import __version__
from ._config import (
    add_connection_flags,
    add_run_flags,
    non_negative_int,
    positive_float,
    positive_int,
)
from ._dry_run import add_dry_run_flag
from ._inputs import SAMPLE_SHEET_HELP, UPDATE_COLUMNS
from ._journal_tools import add_journal_tool_parsers
from ._observe import add_observability_flags
from ._schedule import add_schedule_flags
from ._status import add_scaleout_flags, add_status_parser
from ._usage import Parser
from ._verify import add_verify_parser

__all__ = ("PROG", "build_parser")

PROG = "ica-tapis-async"

_DESCRIPTION = """\
Bulk ICA data linking, tagging and analysis launches, ICA data transfer control and Tapis
bulk transfers, from the shell, with progress bars, resumable journals and JSON reports.

Try it with no server at all:  ica-tapis-async demo"""

_EPILOG = """\
configuration: flags, else the environment: ICA_BASE_URL, ICA_API_KEY or ICA_ACCESS_TOKEN,
ICA_PROJECT_ID, TAPIS_BASE_URL, TAPIS_TOKEN, else icav2's ICAV2_SERVER_URL, ICAV2_X_API_KEY,
ICAV2_ACCESS_TOKEN and ~/.icav2/config.yaml. Without a server, add --simulator to any command.

exit codes: 0 every item succeeded; 1 some items failed or were lost, or the server refused;
2 bad usage, configuration or input file (the message names file, line and field);
124 stopped at --max-runtime; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM: run the same
command with the same --journal to resume."""

_RESUME = """\
resume: with --journal FILE every batch is recorded in a SQLite file; after a crash or Ctrl-C,
run the same command with the same --journal: finished batches are not sent again, submitted
ones are followed to the end, nothing is submitted twice and nothing is lost."""


def _fmt(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _batch_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run")
    group.add_argument(
        "--journal",
        metavar="FILE|URL",
        help="journal (SQLite file or postgresql:// URL): records progress; reuse it to resume",
    )
    add_scaleout_flags(group)
    group.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="items per batch (default: link 1000, update 1000, analyses 100)",
    )
    group.add_argument(
        "--max-batches",
        type=positive_int,
        default=8,
        metavar="N",
        help="batches submitted and polled at once (default 8)",
    )
    add_schedule_flags(group)
    add_dry_run_flag(group)


def build_parser() -> argparse.ArgumentParser:
    """The full parser (``simulator`` arguments are passed through untouched by ``main``)."""
    parser = Parser(prog=PROG, description=_DESCRIPTION, epilog=_EPILOG, formatter_class=_fmt)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="a realistic ingestion against an in-process simulator",
        description=(
            "Start the simulator in-process and run an ingestion against it: link files, tag "
            "them (update batches), launch analyses and run Tapis transfers, each stage with "
            "a live progress bar, then print a summary. Exits 1 if any item is lost or fails."
        ),
        formatter_class=_fmt,
    )
    demo.add_argument(
        "--items",
        type=positive_int,
        default=20_000,
        metavar="N",
        help="files to link and tag (default 20,000)",
    )
    demo.add_argument(
        "--analyses",
        type=non_negative_int,
        default=200,
        metavar="N",
        help="analyses to launch (default 200)",
    )
    demo.add_argument(
        "--transfers",
        type=non_negative_int,
        default=50,
        metavar="N",
        help="Tapis transfer tasks to run (default 50)",
    )
    demo.add_argument(
        "--rate",
        type=positive_float,
        default=None,
        metavar="N",
        help="the simulator's ICA rate limit in requests/s (default 25)",
    )
    demo.add_argument(
        "--fast", action="store_true", help="no simulated latency or processing time (for tests)"
    )
    demo.add_argument("--json", action="store_true", help="print the reports as JSON")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    commands.add_parser(
        "simulator",
        help="serve the ICA + Tapis simulator (see: simulator --help)",
        add_help=False,
    )

    link = commands.add_parser(
        "link",
        help="link data (files fil.…, folders fol.…) into a project",
        description="Link every data id of FILE (one per line; '-' or none: stdin) into the "
        "project, in batches, and wait for every item's final status.\n\n" + _RESUME,
        formatter_class=_fmt,
    )
    link.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="data ids, one per line; '#' comments and blank lines are skipped",
    )
    add_run_flags(link)
    _batch_flags(link)
    add_connection_flags(link)

    update = commands.add_parser(
        "update",
        help="add/remove tags, set/clear archive and delete times",
        description=(
            "Update the data ids of FILE: the flags apply to every id. FILE is a list of ids "
            "(one per line), or a CSV/JSON/JSON Lines file with a dataId column and any of: "
            + ", ".join(UPDATE_COLUMNS)
            + " (tags separated by ';', times ISO 8601 UTC). Rows with the same changes are "
            "sent as one group. Archive/delete times cannot be set on folders.\n\n" + _RESUME
        ),
        formatter_class=_fmt,
    )
    update.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="data ids or an update spec ('-' or none: stdin)",
    )
    changes = update.add_argument_group("changes (for every data id)")
    changes.add_argument("--add-tag", action="append", metavar="TAG", help="add a user tag")
    changes.add_argument("--remove-tag", action="append", metavar="TAG", help="remove a user tag")
    changes.add_argument(
        "--add-technical-tag", action="append", metavar="TAG", help="add a technical tag"
    )
    changes.add_argument(
        "--remove-technical-tag", action="append", metavar="TAG", help="remove a technical tag"
    )
    changes.add_argument(
        "--archive-at",
        metavar="WHEN",
        help="archive time: 2030-01-30T08:30:00Z, 2030-01-30 or +90d",
    )
    changes.add_argument("--delete-at", metavar="WHEN", help="delete time (same forms)")
    changes.add_argument("--clear-archive-at", action="store_true", help="clear the archive time")
    changes.add_argument("--clear-delete-at", action="store_true", help="clear the delete time")
    update.add_argument(
        "--format",
        choices=("text", "csv", "json", "jsonl"),
        help="FILE's format (default: from its extension)",
    )
    add_run_flags(update)
    _batch_flags(update)
    add_connection_flags(update)

    analyses = commands.add_parser(
        "analyses",
        help="launch analyses from a sample sheet (CSV or JSON), exactly once",
        description="Create one analysis per row of a sample sheet. Each batch carries an "
        "Idempotency-Key, so a retried or resumed batch never creates an analysis twice.\n\n"
        + SAMPLE_SHEET_HELP
        + "\n\n"
        + _RESUME,
        formatter_class=_fmt,
    )
    analyses.add_argument("file", metavar="SHEET", help="the sample sheet ('-': stdin)")
    analyses.add_argument(
        "--pipeline-id", metavar="ID", help="pipeline for rows without a pipelineId"
    )
    analyses.add_argument(
        "--format",
        choices=("csv", "json", "jsonl"),
        help="the sheet's format (default: from its extension)",
    )
    analyses.add_argument(
        "--resend-in-doubt",
        action="store_true",
        help="send again the batches whose fate is unknown and whose Idempotency-Key the "
        "server may have forgotten (reported IN_DOUBT): only after checking the server",
    )
    add_run_flags(analyses)
    _batch_flags(analyses)
    add_connection_flags(analyses)

    transfers = commands.add_parser(
        "transfers",
        help="ICA data transfers (list, abort) and Tapis bulk transfers (create)",
        description="ICA data transfers: list, abort. Tapis: create many transfer tasks from "
        "a file of 'source destination' lines and wait for all of them.",
        formatter_class=_fmt,
    )
    actions = transfers.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="list the project's ICA data transfers", formatter_class=_fmt
    )
    listing.add_argument("--status", help="only this status, e.g. ONGOING")
    listing.add_argument("--direction", choices=("UPLOAD", "DOWNLOAD", "IMPORT"))
    listing.add_argument("--connector", metavar="ID", help="only this connector")
    listing.add_argument("--sort", metavar="SPEC", help="e.g. 'status, dataTransferred desc'")
    listing.add_argument("--limit", type=positive_int, metavar="N", help="at most N transfers")
    add_run_flags(listing)
    add_connection_flags(listing)

    abort = actions.add_parser(
        "abort",
        help="abort ICA data transfers by id, or all with a status",
        formatter_class=_fmt,
    )
    abort.add_argument("ids", nargs="*", metavar="ID", help="transfer ids")
    abort.add_argument("--status", help="also abort every transfer with this status (ONGOING…)")
    abort.add_argument(
        "--direction",
        choices=("UPLOAD", "DOWNLOAD", "IMPORT"),
        help="with --status: only this direction",
    )
    abort.add_argument("--wait", action="store_true", help="wait until each one is final")
    abort.add_argument(
        "--timeout",
        type=positive_float,
        default=300.0,
        metavar="S",
        help="with --wait: give up after S seconds (default 300)",
    )
    add_run_flags(abort)
    add_connection_flags(abort)

    create = actions.add_parser(
        "create",
        help="Tapis: create transfer tasks from 'source destination' lines and wait",
        description="Create Tapis transfer tasks from FILE ('source destination' per line, "
        "e.g. tapis://sys-a/run1/x.bam tapis://sys-b/in/x.bam) and wait until every task is "
        "final. Each task is tagged PREFIX-<n>, which lets a create whose answer was lost be "
        "found again instead of being created twice.",
        formatter_class=_fmt,
    )
    create.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="the pairs ('-': stdin)"
    )
    create.add_argument(
        "--per-task",
        type=positive_int,
        default=1,
        metavar="N",
        help="elements (lines) per transfer task (default 1)",
    )
    create.add_argument("--tag", metavar="PREFIX", help="tag prefix (default: ita-<random>)")
    create.add_argument(
        "--journal",
        metavar="FILE",
        help="SQLite journal: a rerun with it follows the tasks already created instead of "
        "creating them again",
    )
    create.add_argument(
        "--max-tasks",
        type=positive_int,
        default=16,
        metavar="N",
        help="tasks created and followed at once (default 16)",
    )
    add_dry_run_flag(create)
    add_schedule_flags(create)
    add_run_flags(create, project=False)
    add_connection_flags(create, tapis=True)
    add_status_parser(commands, _fmt)
    add_verify_parser(commands, _fmt)
    add_journal_tool_parsers(commands, _fmt)
    add_observability_flags(parser)
    return parser
