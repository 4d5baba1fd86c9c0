"""Payloads and helpers shared by the cli tests (imported from here, not conftest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from ica_tapis_async.simulator import Simulator

PROJECT = "5a1e0000-0000-4000-8000-00000000c1e0"


ENV_VARS = (
    "ICA_BASE_URL",
    "ICA_API_KEY",
    "ICA_ACCESS_TOKEN",
    "ICA_PROJECT_ID",
    "TAPIS_BASE_URL",
    "TAPIS_TOKEN",
    "ICAV2_SERVER_URL",
    "ICAV2_X_API_KEY",
    "ICAV2_ACCESS_TOKEN",
)


@attrs.frozen
class Result:
    """Exit code and captured output of one ``main`` call."""

    code: int
    out: str
    err: str


Cli = Callable[..., Result]


def server_flags(sim: Simulator) -> list[str]:
    """Flags pointing a command at ``sim`` as if it were a real server."""
    return ["--base-url", sim.ica_url, "--api-key", "test-key", "--project", PROJECT]


def write(tmp_path: Path, name: str, text: str) -> str:
    """Write ``text`` to ``tmp_path/name``; returns the path as a string."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)
