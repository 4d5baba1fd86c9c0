"""Flags for runs started by schedulers: ``--max-runtime`` (a wall-time limit, stopped cleanly)."""

from __future__ import annotations

import argparse
import math
import re
from typing import Any, Final

__all__ = ("EXIT_DEADLINE", "add_schedule_flags", "duration", "duration_text")

#: The exit code of a run stopped by ``--max-runtime`` (as ``timeout`` exits when it stops one).
EXIT_DEADLINE: Final = 124

_UNITS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def duration(text: str) -> float:
    """An argparse ``type``: ``90`` (seconds), ``90s``, ``45m``, ``2h``, ``1d`` or ``1h30m``.

    Raises:
        argparse.ArgumentTypeError: not such a duration, or not > 0.
    """
    spec = text.strip().lower()
    seconds: float | None = None
    try:
        seconds = float(spec)
    except ValueError:
        parts = _PART.findall(spec)
        if parts and "".join(n + u for n, u in parts) == spec:
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90, 90s, 45m, 2h, 1h30m)")
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite duration > 0, got {text!r}")
    return seconds


def duration_text(seconds: float) -> str:
    """``7200.0`` -> ``"2h"``, ``5400.0`` -> ``"1h30m"``, ``2.5`` -> ``"2.5s"``."""
    out, rest = [], seconds
    for unit, size in _UNITS.items():
        if rest >= size and unit != "s":
            count = int(rest // size)
            out.append(f"{count}{unit}")
            rest -= count * size
    if rest or not out:
        out.append(f"{rest:g}s")
    return "".join(out)


def add_schedule_flags(group: Any) -> None:
    """``--max-runtime`` for a command whose run a scheduler may cut short."""
    group.add_argument(
        "--max-runtime",
        type=duration,
        metavar="DURATION",
        help="stop cleanly after this long (90s, 45m, 2h, 1h30m), as on Ctrl-C: leases "
        f"released, the resume command printed, exit {EXIT_DEADLINE}",
    )
