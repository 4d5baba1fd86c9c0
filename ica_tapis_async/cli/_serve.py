"""``ica-tapis-async simulator``: serve the simulator, with one-line errors for operator mistakes.

The flags are the simulator's own (``python -m ica_tapis_async.simulator --help``); this wrapper
turns a bad value, a port in use or an unknown host into ``error: --flag ...`` and exit code 2
instead of a usage dump or a traceback. It needs no optional dependency (no ``rich``).
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from collections.abc import Sequence

import attrs

from ..simulator import Simulator, SimulatorConfig
from ..simulator.__main__ import build_parser
from ._usage import UsageError, one_line_errors

__all__ = ("serve_main",)

PROG = "ica-tapis-async simulator"
_MAX_PORT = 65_535


def _flag_message(exc: Exception, fields: Sequence[str]) -> str:
    """``p_503 must be within [0, 1]`` -> ``--p-503: must be within [0, 1]``."""
    text = str(exc)
    for name in sorted(fields, key=len, reverse=True):
        if text.startswith(name + " "):
            return f"--{name.replace('_', '-')}: {text[len(name) + 1 :]}"
    return text


def _check_address(host: str, port: int) -> None:
    if not 0 <= port <= _MAX_PORT:
        raise UsageError(f"--port {port}: out of range; use 0 (any free port) to {_MAX_PORT}")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UsageError(f"--host {host}: not a name or address this machine can resolve") from None


async def _serve(simulator: Simulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        print(f"ICA: {simulator.ica_url}")
        print(f"Tapis: {simulator.tapis_url}")
        print(f"Stats: {simulator.base_url}/_simulator/stats")
        sys.stdout.flush()
        await stop.wait()


def serve_main(argv: Sequence[str]) -> int:
    """Run ``ica-tapis-async simulator ARGS``; 0 after SIGINT/SIGTERM, 2 on a mistake."""
    parser = one_line_errors(build_parser())
    parser.prog = PROG
    fields = [f.name for f in attrs.fields(SimulatorConfig)]
    try:
        args = vars(parser.parse_args(list(argv)))
        realistic, access_log = args.pop("realistic"), args.pop("access_log")
        _check_address(args.get("host", "127.0.0.1"), args.get("port", 0))
        try:
            config = SimulatorConfig.realistic(**args) if realistic else SimulatorConfig(**args)
        except (TypeError, ValueError) as exc:
            raise UsageError(_flag_message(exc, fields)) from None
        simulator = Simulator(config)
        simulator.access_log = access_log
        if access_log:
            import logging

            logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            asyncio.run(_serve(simulator))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"--port {config.port}: already in use on {config.host}; pick another "
                    "or --port 0 for any free one"
                ) from None
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
                raise UsageError(
                    f"--host {config.host} --port {config.port}: cannot listen there "
                    f"({exc.strerror})"
                ) from None
            raise
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
