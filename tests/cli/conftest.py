"""Fixtures for the CLI tests: a clean environment, a threaded simulator, a runner of ``main``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ica_tapis_async.cli import main
from ica_tapis_async.simulator import Simulator

from .helpers import ENV_VARS, Cli, Result


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No ICA/Tapis/icav2 setting of the developer's (variables, ~/.icav2) leaks into a test;
    an 80-column terminal."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    # rich sizes its consoles from COLUMNS when output is not a terminal: the tests assume 80.
    monkeypatch.setenv("COLUMNS", "80")


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
