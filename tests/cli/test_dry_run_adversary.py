"""``--dry-run`` attacked: exit 0 only where the run would start, 2 where it would refuse, and
nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import Cli
from .served import Served, served_simulator


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One served simulator for the module."""
    with served_simulator() as server:
        yield server


def _tapis(served: Served) -> list[str]:
    return ["--tapis-url", served.tapis_url, "--tapis-token", "tok"]


def _pairs(tmp_path: Path, name: str, count: int, tag: str) -> Path:
    pairs = tmp_path / name
    pairs.write_text(
        "".join(f"tapis://a/{tag}{i}/ tapis://b/{tag}{i}/\n" for i in range(count)), "utf-8"
    )
    return pairs


def test_a_transfers_dry_run_that_resumes_prints_its_plan(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs, journal = _pairs(tmp_path, "pairs.txt", 3, "p"), tmp_path / "transfers.sqlite"
    argv = ["transfers", "create", str(pairs), "--journal", str(journal)]
    assert cli(*argv, "-q", *_tapis(served)).code == 0
    result = cli(*argv, "--dry-run", *_tapis(served))
    assert result.code == 0, result.err
    assert "3 of 3 tasks already done" in result.out


@pytest.mark.parametrize("change", ["other", "longer", "shorter"])
def test_a_transfers_dry_run_refuses_input_the_journal_run_refuses(
    cli: Cli, served: Served, tmp_path: Path, change: str
) -> None:
    pairs, journal = _pairs(tmp_path, "pairs.txt", 3, "r"), tmp_path / "transfers.sqlite"
    assert cli("transfers", "create", str(pairs), "--journal", str(journal), "-q",
               *_tapis(served)).code == 0  # fmt: skip
    other = {
        "other": _pairs(tmp_path, "other.txt", 3, "s"),
        "longer": _pairs(tmp_path, "longer.txt", 4, "r"),
        "shorter": _pairs(tmp_path, "shorter.txt", 2, "r"),
    }[change]
    argv = ["transfers", "create", str(other), "--journal", str(journal), *_tapis(served)]
    tasks = served.stats()["tapis_tasks"]
    before = journal.read_bytes()
    dry = cli(*argv, "--dry-run")
    assert journal.read_bytes() == before
    assert served.stats()["tapis_tasks"] == tasks
    real = cli(*argv)
    assert real.code == 2, real.out + real.err  # the run refuses it: so must its dry run
    assert dry.code == 2, dry.out
    assert "other input" in dry.err
