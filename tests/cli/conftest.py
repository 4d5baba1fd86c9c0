"""Fixtures for the CLI tests: a clean environment, a threaded simulator, a runner of ``main``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from ica_tapis_async.cli import main
from ica_tapis_async.simulator import Simulator

PROJECT = "5a1e0000-0000-4000-8000-00000000c1e0"
ENV_VARS = (
    "ICA_BASE_URL",
    "ICA_API_KEY",
    "ICA_ACCESS_TOKEN",
    "ICA_PROJECT_ID",
    "TAPIS_BASE_URL",
    "TAPIS_TOKEN",
)


@attrs.frozen
class Result:
    """Exit code and captured output of one ``main`` call."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ICA/Tapis variable of the developer's shell leaks into a test; an 80-column terminal."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    # rich sizes its consoles from COLUMNS when output is not a terminal: the tests assume 80.
    monkeypatch.setenv("COLUMNS", "80")


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Call ``main(argv)`` and return its exit code and output."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A simulator serving from a background thread (``main`` runs its own event loop)."""
    with Simulator(track_link_submissions=True) as simulator:
        yield simulator


def server_flags(sim: Simulator) -> list[str]:
    """Flags pointing a command at ``sim`` as if it were a real server."""
    return ["--base-url", sim.ica_url, "--api-key", "test-key", "--project", PROJECT]


def write(tmp_path: Path, name: str, text: str) -> str:
    """Write ``text`` to ``tmp_path/name``; returns the path as a string."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)
