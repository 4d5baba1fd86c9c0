"""The ``ica-tapis-async`` command line (also ``python -m ica_tapis_async``).

Subcommands: ``demo``, ``simulator``, ``link``, ``update``, ``analyses``, ``transfers``,
``status``, ``runs``, ``export``; run
``ica-tapis-async --help`` or ``ica-tapis-async COMMAND --help`` for their flags.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sqlite3
import sys
import warnings
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from .._concurrency import representative
from .._concurrency._redis_client import SharedLimiterUnavailableError
from .._errors import (
    APIConnectionError,
    APIError,
    IcaTapisError,
    RequestValidationError,
    ServerUnreachableError,
)
from .._redact import redact_url
from ..orchestrator import JournalUnavailableError
from ._config import ConfigError
from ._inputs import InputError
from ._interrupt import DEADLINE, SigintGuard
from ._observe import observing
from ._output import plural
from ._parser import build_parser
from ._resume import resume_command
from ._schedule import EXIT_DEADLINE, duration_text
from ._state import RunState
from ._stdout import GuardedStdout, ReaderGoneError, ReportWriteError, discard_stdout
from ._stdout import install as install_stdout
from ._usage import UsageError

__all__ = ("main",)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: SIGTERM (``timeout``, Docker, Kubernetes, systemd): 128 + 15, as a shell reports it.
EXIT_TERMINATED = 143
#: Stdout's reader went away (``| head``): 128 + SIGPIPE, what a shell reports for it.
EXIT_READER_GONE = 141

Command = Callable[[argparse.Namespace, RunState], Coroutine[Any, Any, int]]


def _command(name: str) -> Command:
    if name == "demo":
        from ._demo import cmd_demo

        return cmd_demo
    if name == "status":
        from ._status import cmd_status

        return cmd_status
    if name in ("runs", "export"):
        from ._journal_tools import cmd_export, cmd_runs

        return cmd_runs if name == "runs" else cmd_export
    if name == "verify":
        from ._verify import cmd_verify

        return cmd_verify
    from . import _commands

    handlers: dict[str, Command] = {
        "link": _commands.cmd_link,
        "update": _commands.cmd_update,
        "analyses": _commands.cmd_analyses,
        "transfers": _commands.cmd_transfers,
    }
    return handlers[name]


#: Flags whose value may start with "-" (a mistaken "-5d"): argparse would take it for a flag and
#: say only "expected one argument".
_DASH_VALUE_FLAGS = ("--archive-at", "--delete-at")


def _attach_dash_values(argv: list[str]) -> list[str]:
    """``--archive-at -5d`` -> ``--archive-at=-5d``, so the value's own check explains it."""
    out: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in _DASH_VALUE_FLAGS:
            value = next(tokens, None)
            if value is not None and value[:2] != "--" and value.startswith("-"):
                out.append(f"{token}={value}")
                continue
            out.append(token)
            if value is not None:
                out.append(value)
            continue
        out.append(token)
    return out


def _stop_heading(reason: int | None, args: argparse.Namespace) -> tuple[str, int]:
    """What stopped the run, as the first line says it, and the exit code it means."""
    if reason == DEADLINE:
        limit = duration_text(getattr(args, "max_runtime", None) or 0.0)
        return f"[bold yellow]Stopped at --max-runtime {limit}[/]", EXIT_DEADLINE
    if reason == signal.SIGTERM:
        return "[bold yellow]Terminated (SIGTERM)[/]", EXIT_TERMINATED
    return "[bold yellow]Interrupted[/]", EXIT_INTERRUPTED


def _interrupted(
    err: Console, state: RunState, args: argparse.Namespace, reason: int | None = None
) -> int:
    heading, code = _stop_heading(reason, args)
    # soft_wrap: each message is one line however narrow the terminal (it wraps, not rich).
    err.print(f"\n{heading}: stopped cleanly.")
    for bar in state.bars:
        if bar.total and bar.started:
            err.print(f"  {bar.done:,} of {plural(bar.total, 'item')} had finished.")
    if state.journal:
        if state.run_id:
            err.print(f"Run id: {escape(state.run_id)}", soft_wrap=True, highlight=False)
        err.print(
            "Progress is recorded in the journal. To resume, run the same command with the "
            "same --journal:",
            soft_wrap=True,
        )
        # A password in a --journal or --shared-limit URL is shown as ***, never printed.
        argv = [redact_url(arg) if "://" in arg else arg for arg in state.argv]
        command, hidden = resume_command(argv, state.secrets)
        err.print(f"  {escape(command)}", soft_wrap=True, highlight=False)
        if hidden:
            err.print(
                f"(credentials are shown as {', '.join(hidden)}: set them, or put yours "
                "back, before running it)",
                highlight=False,
                soft_wrap=True,
            )
    if state.note:
        err.print(escape(state.note), highlight=False, soft_wrap=True)
    elif state.bars and not state.journal:
        err.print(
            "This run had no --journal, so nothing was recorded. Run again with "
            "--journal FILE to make it resumable (links and tag updates are safe to "
            "repeat; analyses launched without a journal would be created again).",
            highlight=False,
            soft_wrap=True,
        )
    return code


def _failed(err: Console, leaf: BaseException, state: RunState) -> int | None:
    """Print a known error in one line and return its exit code (None: not one of ours)."""
    usage = (
        InputError,
        ConfigError,
        UsageError,
        RequestValidationError,
        argparse.ArgumentTypeError,
    )
    if isinstance(leaf, usage):
        err.print(f"[red]error:[/] {escape(str(leaf))}", soft_wrap=True)
        return EXIT_USAGE
    if isinstance(leaf, SharedLimiterUnavailableError | JournalUnavailableError) and leaf.permanent:
        # A shared server that refuses this worker (a wrong password, user or ACL): the
        # configuration is wrong, as when the journal refuses it at the start.
        err.print(f"[red]error:[/] {escape(str(leaf))}", soft_wrap=True)
        return EXIT_USAGE
    if isinstance(leaf, sqlite3.Error):
        # Only the journal uses SQLite: a place it cannot open or write, or a damaged file.
        where = f"--journal {state.journal}" if state.journal else "journal"
        err.print(f"[red]error:[/] {escape(where)}: {escape(str(leaf))}", soft_wrap=True)
        return EXIT_USAGE
    if isinstance(leaf, ServerUnreachableError):
        err.print(
            f"[red]error:[/] {escape(str(leaf))} (--unreachable-after sets how long to try)",
            soft_wrap=True,
        )
        if state.journal:
            err.print(
                "Once the server is up, run the same command with the same --journal to "
                "settle what was sent.",
                soft_wrap=True,
            )
        return EXIT_FAILED
    if isinstance(leaf, APIConnectionError):
        err.print(f"[red]error:[/] cannot reach the server: {escape(str(leaf))}", soft_wrap=True)
        return EXIT_FAILED
    if isinstance(leaf, APIError | IcaTapisError):
        err.print(f"[red]error:[/] {type(leaf).__name__}: {escape(str(leaf))}", soft_wrap=True)
        return EXIT_FAILED
    return None


async def _observed(command: Command, args: argparse.Namespace, state: RunState) -> int:
    async with observing(args):
        return await command(args, state)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        0 success; 1 failed or lost items, or a server error; 2 bad usage or input;
        124 stopped by ``--max-runtime``; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    err = Console(stderr=True, highlight=False, emoji=False)
    try:
        args = build_parser().parse_args(_attach_dash_values(args_list))
    except UsageError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # aiohttp's server (the in-process simulator) warns about gzipping big pages; not ours to fix.
    warnings.filterwarnings("ignore", message="Synchronous compression", category=UserWarning)
    state = RunState(args_list)
    stdout = install_stdout()
    try:
        return _run(args, state, err)
    except ReportWriteError as exc:
        return _report_lost(err, exc, stdout, state)
    except ReaderGoneError:
        discard_stdout(stdout.target)
        return EXIT_READER_GONE
    finally:
        sys.stdout = stdout.target


def _run(args: argparse.Namespace, state: RunState, err: Console) -> int:
    # The guard stays until the last line is printed: a second Ctrl-C (or the SIGINT that
    # `timeout` forwards on top of the terminal's) must not break the clean stop of the first.
    # SIGTERM (schedulers) and --max-runtime stop the same way, with their own exit codes.
    with SigintGuard(getattr(args, "max_runtime", None)) as guard:
        try:
            with asyncio.Runner() as runner:
                return runner.run(guard.run(_observed(_command(args.command), args, state)))
        except KeyboardInterrupt:
            return _interrupted(err, state, args, guard.reason)
        except BaseException as raised:
            leaf = representative(raised)
            if isinstance(leaf, ReportWriteError | ReaderGoneError):
                raise leaf from None
            if guard.interrupted or isinstance(leaf, KeyboardInterrupt | asyncio.CancelledError):
                return _interrupted(err, state, args, guard.reason)
            code = _failed(err, leaf, state)
            if code is not None:
                if state.run_id:
                    err.print(f"Run id: {escape(state.run_id)}", soft_wrap=True, highlight=False)
                return code
            if leaf is raised:
                raise
            raise leaf from raised


def _report_lost(
    err: Console, exc: ReportWriteError, stdout: GuardedStdout, state: RunState
) -> int:
    """Stdout failed (a full disk): say where, and put the report on stderr instead."""
    discard_stdout(stdout.target)
    if exc.text is None:
        err.print(
            f"[red]error:[/] {escape(str(exc))}; it is too large to repeat here", soft_wrap=True
        )
    else:
        err.print(f"[red]error:[/] {escape(str(exc))}; here it is instead:", soft_wrap=True)
        sys.stderr.write(exc.text)
        sys.stderr.flush()
    if state.journal:
        err.print(
            "The run's outcomes are in the journal too: the same command prints the report "
            "again without sending anything.",
            soft_wrap=True,
        )
    return EXIT_FAILED
