"""Fixtures for orchestrator tests: an in-process simulator and a client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

PROJECT = "3f1e8d0a-0000-4000-8000-00000000e001"


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


def orchestrator(ica: ita.IcaClient, **kwargs: object) -> ita.BatchOrchestrator:
    """An orchestrator polling quickly, for tests."""
    options: dict[str, object] = {"poll_initial": 0.02, "poll_max": 0.1}
    options.update(kwargs)
    return ita.BatchOrchestrator(ica, PROJECT, **options)  # type: ignore[arg-type]


def nextflow(ref: str, pipeline: str = "pipe-1") -> ita.CreateNextflowAnalysis:
    """A minimal Nextflow analysis request."""
    return ita.CreateNextflowAnalysis(
        ref,
        pipeline,
        ita.NextflowAnalysisInput([ita.AnalysisDataInput("reads", data_ids=["fil.1"])]),
    )


async def eventually(predicate: Callable[[], bool], limit_s: float = 30.0) -> None:
    """Wait until ``predicate()`` holds (state owned by another process or task)."""
    with anyio.fail_after(limit_s):
        while not predicate():  # noqa: ASYNC110 - the state lives elsewhere; nothing to await
            await anyio.sleep(0.01)
