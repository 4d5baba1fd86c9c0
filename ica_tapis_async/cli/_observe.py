"""Observability on the command line: log flags, a Prometheus port, the live view's data.

No rich here: the parser imports this module, and ``--help`` works without the ``cli`` extra.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

import attrs

from .._telemetry import LiveStats, MetricsRegistry, Telemetry, configure_logging, serve_metrics
from ._config import ConfigError

__all__ = (
    "Observed",
    "add_observability_flags",
    "current_telemetry",
    "observing",
)

log = logging.getLogger("ica_tapis_async")

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# The telemetry of the command being run: set by ``observing`` around it, read by ``connect``
# and the progress display. A context variable, so two commands run in one process (tests) each
# see their own.
_CURRENT: ContextVar[Telemetry | None] = ContextVar("ica_tapis_async_cli_telemetry", default=None)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return value


def _level(text: str) -> str:
    if text.upper() not in LEVELS:
        raise argparse.ArgumentTypeError(f"unknown log level {text!r}: one of {', '.join(LEVELS)}")
    return text.upper()


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and every (sub)subcommand parser under it that parses its own flags."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if sub.add_help:  # the pass-through ``simulator`` parses nothing itself
                    yield from _parsers(sub)


def add_observability_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--log-level``, ``--log-format`` and ``--metrics-port`` to ``parser`` and its
    subcommands.

    The flags are accepted before or after the subcommand; a subcommand's copy leaves the value
    alone unless given (``SUPPRESS``), so ``--log-level DEBUG link …`` keeps DEBUG.
    """
    for index, each in enumerate(_parsers(parser)):
        top = index == 0
        parser = each
        group = parser.add_argument_group("observability")
        group.add_argument(
            "--log-level",
            type=_level,
            default="WARNING" if top else argparse.SUPPRESS,
            metavar="LEVEL",
            help="log records from this level up on stderr: DEBUG, INFO, WARNING (default)…",
        )
        group.add_argument(
            "--log-format",
            choices=("text", "json"),
            default="text" if top else argparse.SUPPRESS,
            help="log lines as text (default) or one JSON object per line",
        )
        group.add_argument(
            "--metrics-port",
            type=_port,
            default=None if top else argparse.SUPPRESS,
            metavar="PORT",
            help="serve Prometheus metrics at http://127.0.0.1:PORT/metrics while running",
        )


def current_telemetry() -> Telemetry | None:
    """The telemetry of the running command, if ``observing`` set one."""
    return _CURRENT.get()


@attrs.frozen
class Observed:
    """What ``observing`` set up: the telemetry, and the metrics port actually bound."""

    telemetry: Telemetry
    metrics_port: int | None


@asynccontextmanager
async def observing(args: argparse.Namespace) -> AsyncIterator[Observed]:
    """Set up logging, the live view and (with ``--metrics-port``) the scrape endpoint, for the
    duration of one command; the logging set-up is undone afterwards.

    Raises:
        ConfigError: the metrics port cannot be bound.
    """
    package = logging.getLogger("ica_tapis_async")
    saved = (list(package.handlers), package.level, package.propagate)
    configure_logging(getattr(args, "log_level", "WARNING"), getattr(args, "log_format", "text"))
    port = getattr(args, "metrics_port", None)
    registry = MetricsRegistry() if port is not None else None
    telemetry = Telemetry(registry=registry, live=LiveStats())
    token = _CURRENT.set(telemetry)
    try:
        if registry is None or port is None:
            yield Observed(telemetry, None)
            return
        try:
            server = serve_metrics(registry, port)
            bound = await server.__aenter__()
        except OSError as exc:
            raise ConfigError(f"--metrics-port {port}: cannot listen: {exc.strerror}") from None
        try:
            log.info(
                "serving metrics at http://127.0.0.1:%d/metrics",
                bound,
                extra={"metrics_port": bound},
            )
            yield Observed(telemetry, bound)
        finally:
            await server.__aexit__(None, None, None)
    finally:
        _CURRENT.reset(token)
        package.handlers[:] = saved[0]
        package.setLevel(saved[1])
        package.propagate = saved[2]
