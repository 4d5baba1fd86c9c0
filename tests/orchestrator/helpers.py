"""Payloads and helpers shared by the orchestrator tests (imported from here, not conftest)."""

from __future__ import annotations

from collections.abc import Callable

import anyio

import ica_tapis_async as ita

PROJECT = "3f1e8d0a-0000-4000-8000-00000000e001"


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
