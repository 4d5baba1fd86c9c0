"""The ``ica-tapis-async`` command line (also ``python -m ica_tapis_async``).

Subcommands: ``demo``, ``simulator``, ``link``, ``update``, ``analyses``, ``transfers``; run
``ica-tapis-async --help`` or ``ica-tapis-async COMMAND --help`` for their flags.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
import warnings
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from .._errors import APIConnectionError, APIError, IcaTapisError, RequestValidationError
from ._config import ConfigError
from ._inputs import InputError
from ._observe import observing
from ._parser import PROG, build_parser
from ._state import RunState

__all__ = ("main",)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Command = Callable[[argparse.Namespace, RunState], Coroutine[Any, Any, int]]


def _command(name: str) -> Command:
    if name == "demo":
        from ._demo import cmd_demo

        return cmd_demo
    from . import _commands

    handlers: dict[str, Command] = {
        "link": _commands.cmd_link,
        "update": _commands.cmd_update,
        "analyses": _commands.cmd_analyses,
        "transfers": _commands.cmd_transfers,
    }
    return handlers[name]


def _simulator(argv: list[str]) -> int:
    from ..simulator.__main__ import main as simulator_main

    result = simulator_main(argv)
    return int(result or 0)


def _leaf(exc: BaseException) -> BaseException:
    """The one meaningful exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        if not inner:
            return exc.exceptions[0]
        exc = inner[0]
    return exc


def _interrupted(err: Console, state: RunState) -> int:
    err.print("\n[bold yellow]Interrupted[/]: stopped cleanly.")
    for bar in state.bars:
        if bar.total and bar.started:
            err.print(f"  {bar.done:,} of {bar.total:,} items had finished.")
    command = shlex.join([PROG, *state.argv])
    if state.journal:
        err.print(
            "Progress is recorded in the journal. To resume, run the same command with the "
            "same --journal:"
        )
        err.print(f"  {escape(command)}", soft_wrap=True)
        if state.simulator:
            err.print(
                "(the in-process simulator kept no state: against a real server the run "
                "resumes where it stopped)"
            )
    elif state.note:
        err.print(escape(state.note), highlight=False)
    elif state.bars:
        err.print(
            "This run had no --journal, so nothing was recorded. Run again with "
            "--journal FILE to make it resumable (links and tag updates are safe to "
            "repeat; analyses launched without a journal would be created again).",
            highlight=False,
        )
    return EXIT_INTERRUPTED


async def _observed(command: Command, args: argparse.Namespace, state: RunState) -> int:
    async with observing(args):
        return await command(args, state)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        0 success; 1 failed or lost items, or a server error; 2 bad usage or input;
        130 interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "simulator":
        return _simulator(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # aiohttp's server (the in-process simulator) warns about gzipping big pages; not ours to fix.
    warnings.filterwarnings("ignore", message="Synchronous compression", category=UserWarning)
    err = Console(stderr=True, highlight=False)
    state = RunState(args_list)
    try:
        with asyncio.Runner() as runner:
            return runner.run(_observed(_command(args.command), args, state))
    except KeyboardInterrupt:
        return _interrupted(err, state)
    except BaseException as raised:
        leaf = _leaf(raised)
        if isinstance(leaf, KeyboardInterrupt | asyncio.CancelledError):
            return _interrupted(err, state)
        if isinstance(
            leaf, InputError | ConfigError | RequestValidationError | argparse.ArgumentTypeError
        ):
            err.print(f"[red]error:[/] {escape(str(leaf))}", soft_wrap=True)
            return EXIT_USAGE
        if isinstance(leaf, APIConnectionError):
            err.print(
                f"[red]error:[/] cannot reach the server: {escape(str(leaf))}", soft_wrap=True
            )
            return EXIT_FAILED
        if isinstance(leaf, APIError | IcaTapisError):
            err.print(f"[red]error:[/] {type(leaf).__name__}: {escape(str(leaf))}", soft_wrap=True)
            return EXIT_FAILED
        if leaf is raised:
            raise
        raise leaf from raised
