"""TransferOrchestrator with a journal: other input (reordered requests) is refused as one
JournalMismatchError, as for batches (issue 19, point 7), and the refused input leaves the
run's unrecorded entries alone, so the run resumes with its own input."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import JournalMismatchError
from ica_tapis_async.simulator import Simulator


def request(i: int) -> ita.TransferRequest:
    """A one-element transfer request."""
    return ita.TransferRequest(
        [ita.ReqTransferElement(f"tapis://src/id{i}/?files=1", f"tapis://dst/id{i}/")]
    )


async def run(
    tapis: ita.TapisClient,
    journal: Path | ita.MemoryJournal,
    requests: list[ita.TransferRequest],
    **options: object,
) -> ita.TransferReport:
    orch = ita.TransferOrchestrator(
        tapis,
        journal=journal,
        poll_initial=0.02,
        poll_max=0.05,
        **options,  # type: ignore[arg-type]
    )
    try:
        return await orch.run(requests)
    finally:
        await orch.aclose()


def make_journal(backend: str, tmp_path: Path) -> Path | ita.MemoryJournal:
    return tmp_path / "t.sqlite" if backend == "sqlite" else ita.MemoryJournal()


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_reordered_requests_are_one_mismatch(backend: str, tmp_path: Path) -> None:
    journal = make_journal(backend, tmp_path)
    requests = [request(i) for i in range(6)]
    async with (
        Simulator(seed=23, step_s=0.01) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        first = await run(tapis, journal, requests)
        assert first.counts == {"COMPLETED": 6}
        for other in (requests[::-1], [*requests[:2], *requests[3:], requests[2]]):
            with pytest.raises(JournalMismatchError) as caught:
                await run(tapis, journal, other)
            assert not isinstance(caught.value, BaseExceptionGroup)
        assert sim.stats.tapis_tasks == 6


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_refused_requests_leave_an_unfinished_run_resumable(
    backend: str, tmp_path: Path
) -> None:
    journal = make_journal(backend, tmp_path)
    requests = [request(i) for i in range(6)]
    async with (
        Simulator(seed=23, step_s=0.01) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):

        def stop_after_one(progress: ita.Progress) -> None:
            if sum(progress.finished.values()) >= 1:
                scope.cancel()  # stopped after its first request: an unfinished run

        with anyio.CancelScope() as scope:
            await run(tapis, journal, requests, max_in_flight=1, progress=stop_after_one)
        created = sim.stats.tapis_tasks
        with pytest.raises(JournalMismatchError):
            await run(tapis, journal, requests[::-1], max_in_flight=6)
        assert sim.stats.tapis_tasks == created
        again = await run(tapis, journal, requests, max_in_flight=6)
        assert again.counts == {"COMPLETED": 6}
        assert sim.stats.tapis_tasks == 6
