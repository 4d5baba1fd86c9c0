"""Every example runs against the in-process simulator and succeeds (small sizes)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENV_VARS = (
    "ICA_BASE_URL",
    "ICA_API_KEY",
    "ICA_ACCESS_TOKEN",
    "ICA_PROJECT_ID",
    "TAPIS_BASE_URL",
    "TAPIS_TOKEN",
)


def example_main(name: str) -> Callable[[Sequence[str]], int]:
    """The ``main`` of ``examples/<name>.py``, loaded from its path."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__, f"{name} needs a module docstring"
    main: Callable[[Sequence[str]], int] = module.main
    return main


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples see no real server settings, so they use the simulator."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("name", "argv", "expected"),
    [
        ("link_folder_listing", ["--files", "300", "--pattern", "*.fastq.gz"], "LINKED"),
        (
            "bulk_tag",
            ["--count", "300", "--batch-size", "100", "--archive-in-days", "30"],
            "UPDATED",
        ),
        ("analyses_from_sample_sheet", ["--samples", "250"], "0 twice"),
        ("watch_and_abort_transfers", ["--watch-s", "0.3", "--abort-all"], "ABORTED"),
        ("tapis_bulk_transfer", ["--tasks", "8"], "COMPLETED"),
        ("aiohttp_service", ["--self-test", "--ids", "300"], "'LINKED': 300"),
    ],
)
def test_example_runs_against_the_simulator(
    name: str, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example exits 0 and prints its outcome."""
    assert example_main(name)(argv) == 0
    assert expected in capsys.readouterr().out


def test_link_folder_listing_reads_a_listing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A listing file is read; folders and non-matching paths are skipped."""
    listing = tmp_path / "listing.json"
    listing.write_text(
        '{"items": ['
        '{"data": {"id": "fol.x", "details": {"path": "/r/", "dataType": "FOLDER"}}},'
        '{"data": {"id": "fil.a", "details": {"path": "/r/a.fastq.gz", "dataType": "FILE"}}},'
        '{"data": {"id": "fil.b", "details": {"path": "/r/b.bam", "dataType": "FILE"}}}]}',
        encoding="utf-8",
    )
    main = example_main("link_folder_listing")
    assert main(["--listing", str(listing), "--pattern", "*.fastq.gz"]) == 0
    assert "linking 1 files" in capsys.readouterr().out


def test_tapis_bulk_transfer_cancel(capsys: pytest.CaptureFixture[str]) -> None:
    """--cancel-after cancels what is still running; the tasks end CANCELLED or COMPLETED."""
    # Slow task steps: every task still runs when the cancel comes, however loaded the machine.
    argv = ["--tasks", "20", "--cancel-after", "0.05", "--sim-step-s", "5"]
    assert example_main("tapis_bulk_transfer")(argv) == 0
    assert "CANCELLED" in capsys.readouterr().out
