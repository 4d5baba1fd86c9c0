"""A simulator served by ``python -m ica_tapis_async.simulator`` in another process.

A command run against it meets a server that remembers between runs (``verify`` after
``link``), as an operator's would; its audit counters are read over HTTP.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

__all__ = ("Served", "served_simulator")

_FAST = ("--latency", "0", "--latency-jitter", "0", "--p-503", "0", "--step", "0.01")


@attrs.frozen
class Served:
    """The served simulator's URLs."""

    ica_url: str
    tapis_url: str
    base_url: str

    def stats(self) -> dict[str, Any]:
        """The audit counters (``GET /_simulator/stats``; not an API request)."""
        with urllib.request.urlopen(self.base_url + "/_simulator/stats", timeout=10) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data

    def operations(self) -> dict[str, int]:
        """API requests received so far, per operation id."""
        counts: dict[str, int] = self.stats()["requests_by_operation"]
        return counts


@contextmanager
def served_simulator(*knobs: str) -> Iterator[Served]:
    """Serve a fast simulator (plus ``knobs``, simulator flags) until the block ends."""
    # The with-block closes the pipe when the server has stopped.
    with subprocess.Popen(
        [sys.executable, "-m", "ica_tapis_async.simulator", "--port", "0", *_FAST, *knobs],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"ICA: (http://127\.0\.0\.1:\d+)(/ica/rest)\n", line)
            assert match, f"the simulator did not start: {line!r}"
            tapis = process.stdout.readline().removeprefix("Tapis: ").strip()
            yield Served(match.group(1) + match.group(2), tapis, match.group(1))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
