"""Run identity against the SQLite and memory journals (issue 19, points 1, 6 and 7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .identity_scenarios import SCENARIOS, JournalSpec

Scenario = Callable[[Simulator, ita.IcaClient, JournalSpec], Awaitable[None]]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("backend", ["sqlite", "memory"])
async def test_run_identity(
    scenario: Scenario, backend: str, sim: Simulator, ica: ita.IcaClient, tmp_path: Path
) -> None:
    """Each scenario on a journal file, and on one MemoryJournal shared by the calls."""
    journal: JournalSpec = tmp_path / "run.sqlite" if backend == "sqlite" else ita.MemoryJournal()
    await scenario(sim, ica, journal)
