"""``python -m ica_tapis_async.simulator``: serve the simulator until SIGINT/SIGTERM.

Every :class:`SimulatorConfig` field is a flag (``--p-503 0.05``, ``--rate-limit 50``,
``--api-keys k1,k2``, ``--no-strict-accept``); fields in seconds also have a short alias without
``-s`` (``--latency 0.05``). ``--realistic`` starts from the slower lifelike profile;
``--faithful`` turns on the real services' imperfections that change no outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ._config import FAITHFUL_PROFILE, SimulatorConfig
from ._server import Simulator

__all__ = ("build_parser", "main")


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        return None if text.strip().lower() in ("none", "off", "") else parse(text)

    return convert


def _parser_for(annotation: str) -> Callable[[str], Any] | None:
    """The argparse ``type`` for a field annotation (None: a boolean flag)."""
    if annotation == "bool":
        return None
    nullable = "None" in annotation
    base: Callable[[str], Any] = str
    if annotation.startswith("int"):
        base = int
    elif annotation.startswith("float"):
        base = float
    return _optional(base) if nullable and base is not str else base


class _Faithful(argparse.Action):
    """Sets the faithful profile's knobs as if each had its own flag (so no extra key reaches
    SimulatorConfig); knobs given before it on the command line are kept."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        for name, value in FAITHFUL_PROFILE.items():
            if not hasattr(namespace, name):
                setattr(namespace, name, value)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser, one flag per config field."""
    parser = argparse.ArgumentParser(
        prog="python -m ica_tapis_async.simulator",
        description="Serve the ICA + Tapis simulator until interrupted.",
    )
    parser.add_argument(
        "--realistic", action="store_true", help="start from the slower, lifelike profile"
    )
    parser.add_argument(
        "--faithful",
        action=_Faithful,
        nargs=0,
        default=argparse.SUPPRESS,
        help="turn on the real services' outcome-neutral imperfections (SimulatorConfig."
        "faithful()); flags after it override",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    for field in attrs.fields(SimulatorConfig):
        flags = ["--" + field.name.replace("_", "-")]
        if field.name.endswith("_s"):
            flags.append("--" + field.name[:-2].replace("_", "-"))
        help_text = f"{field.metadata.get('help', '')} (default: {field.default!r})"
        annotation = str(field.type)
        convert = _parser_for(annotation)
        if convert is None:
            parser.add_argument(
                *flags,
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parser.add_argument(
                *flags,
                dest=field.name,
                type=convert,
                default=argparse.SUPPRESS,
                metavar=field.name.upper(),
                help=help_text,
            )
    return parser


async def _serve(simulator: Simulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sys.platform == "win32":  # pragma: no cover - no loop signal handlers there
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
        else:
            loop.add_signal_handler(sig, stop.set)
    async with simulator:
        print(f"ICA: {simulator.ica_url}")
        print(f"Tapis: {simulator.tapis_url}")
        print(f"Stats: {simulator.base_url}/_simulator/stats")
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), serve until SIGINT/SIGTERM, return 0.

    Returns 2 (after printing why) for an invalid knob value.
    """
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    realistic, access_log = args.pop("realistic"), args.pop("access_log")
    try:
        config = SimulatorConfig.realistic(**args) if realistic else SimulatorConfig(**args)
    except (TypeError, ValueError) as exc:
        parser.print_usage(sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    simulator = Simulator(config)
    simulator.access_log = access_log
    if access_log:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(message)s")
    asyncio.run(_serve(simulator))
    return 0


if __name__ == "__main__":
    sys.exit(main())
