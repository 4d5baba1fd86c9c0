"""Usage errors: a mistake on the command line is one ``error:`` line and exit code 2."""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ("Parser", "UsageError", "one_line_errors")


class UsageError(Exception):
    """A mistake on the command line (a flag, a value, a combination): exit code 2."""


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser`` report a bad flag in one line instead of its whole usage first.

    The simulator has a flag per knob, so its usage alone is dozens of lines that bury the one
    line that matters; the subcommands' usages are shorter but no more useful.
    """

    def error(message: str) -> NoReturn:
        raise UsageError(f"{message} (see {parser.prog} --help)")

    parser.error = error  # type: ignore[method-assign]
    return parser


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line (its subcommands' parsers too)."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` naming the problem and where to find help."""
        raise UsageError(f"{message} (see {self.prog} --help)")
