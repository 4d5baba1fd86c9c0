"""The torture run in a small configuration (the long one is ``make torture``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .torture import Config, torture


@pytest.mark.parametrize("seed", [11])
async def test_torture_small(seed: int, tmp_path: Path) -> None:
    """Faults, SIGKILLs and two processes on one journal; the audit finds nothing wrong."""
    result = await torture(seed, Config(links=60, analyses=15, transfers=4, rounds=2), tmp_path)
    assert result["seed"] == seed
