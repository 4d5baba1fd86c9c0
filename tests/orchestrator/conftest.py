"""Fixtures for orchestrator tests: an in-process simulator and a client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator


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
