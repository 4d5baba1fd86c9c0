"""Run identity against a real PostgreSQL journal (issue 19, points 1, 6 and 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator
from tests.orchestrator.identity_scenarios import SCENARIOS, JournalSpec

Scenario = Callable[[Simulator, ita.IcaClient, JournalSpec], Awaitable[None]]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fast simulator on 127.0.0.1 with no faults."""
    async with Simulator(seed=7) as simulator:
        yield simulator


@pytest.fixture
async def ica(sim: Simulator) -> AsyncIterator[ita.IcaClient]:
    """A client of the simulator with quick retries."""
    policy = ita.RetryPolicy(
        max_attempts=8, total_timeout=60, initial_backoff=0.01, max_backoff=0.05
    )
    async with ita.IcaClient(sim.ica_url, api_key="key-1", retry=policy) as client:
        yield client


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_run_identity(
    scenario: Scenario, sim: Simulator, ica: ita.IcaClient, pg_dsn: str
) -> None:
    """Each scenario with the journal given as a URL (each orchestrator opens its own pool)."""
    await scenario(sim, ica, pg_dsn)
