"""The torture run in a small configuration (the long one is ``make torture``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .torture import Config, order_torture, torture


@pytest.mark.parametrize("seed", [11])
async def test_torture_small(seed: int, tmp_path: Path) -> None:
    """Faults, SIGKILLs and two processes on one journal; the audit finds nothing wrong."""
    result = await torture(seed, Config(links=60, analyses=15, transfers=4, rounds=2), tmp_path)
    assert result["seed"] == seed


@pytest.mark.parametrize("seed", [19])
async def test_order_torture_small(seed: int, tmp_path: Path) -> None:
    """Lost update answers with dependent chunks and slow orphans, a worker frozen past its
    lease, stopped jobs with lost answers: the server's state and the reports agree."""
    result = await order_torture(seed, tmp_path)
    assert result["updates"]
