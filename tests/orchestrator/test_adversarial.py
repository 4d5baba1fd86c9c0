"""Adversarial regressions: faults that broke "nothing twice, nothing lost, report = server"."""

from __future__ import annotations

from typing import Any

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Lease, MemoryJournal
from ica_tapis_async.simulator import Simulator

from .helpers import nextflow, orchestrator

QUICK = ita.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.002, jitter=False)


class Crash(Exception):
    """The process "dies" between the server's answer and the journal write."""


class CrashAfterPost(MemoryJournal):
    """A journal whose first ``mark_submitted`` fails: the POST was processed, the journal
    still says SENDING (as after a SIGKILL at that await point)."""

    crashes = 1

    async def mark_submitted(self, lease: Lease, batch_id: str) -> None:
        if self.crashes:
            self.crashes -= 1
            raise Crash(batch_id)
        await super().mark_submitted(lease, batch_id)


@pytest.mark.parametrize(
    ("kind", "operation"),
    [("analysis", "createAnalysisCreationBatch"), ("link", "createProjectDataLinkingBatch")],
)
async def test_a_resent_chunk_refused_with_503s_is_in_doubt_not_unsent(
    sim: Simulator, kind: str, operation: str
) -> None:
    """Killed after the server processed the create, resumed while the server answers 503: the
    server has the chunk, so its items are IN_DOUBT (and resumable), never NOT_SUBMITTED."""
    journal = CrashAfterPost()
    requests: list[Any] = (
        [nextflow(f"c-{i}") for i in range(3)] if kind == "analysis" else ["fil.1", "fil.2"]
    )
    async with ita.IcaClient(sim.ica_url, api_key="k", retry=QUICK) as ica:

        async def run() -> ita.BatchReport:
            orch = orchestrator(ica, journal=journal, run_id="crash-1")
            if kind == "analysis":
                return await orch.create_analyses(requests)
            return await orch.link(requests)

        with pytest.raises(Crash):
            await run()
        sim.configure(p_503=1.0, fault_operations={operation})
        second = await run()
        assert set(second.counts) == {"IN_DOUBT"}, second.counts
        sim.configure(p_503=0.0)
        third = await run()
    assert not third.failures, third.counts
    if kind == "analysis":
        assert set(sim.stats.analyses_by_user_reference.values()) == {1}


class HealAfterRelease(MemoryJournal):
    """Stops the simulator's 503s once a chunk was given up unfinished."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self.sim = sim

    async def release(self, lease: Lease) -> None:
        self.sim.configure(p_503=0.0)
        await super().release(lease)


async def test_an_update_after_an_unfinished_earlier_update_of_its_id_is_not_sent(
    sim: Simulator,
) -> None:
    """Chunk 0 updates fil.1 and is refused (503s), chunk 2 updates fil.1 again after chunk 0
    left the in-flight window: chunk 2 must not be sent, or the next run applies chunk 0's
    update after chunk 2's (the caller's order broken)."""
    sim.configure(p_503=1.0, fault_operations={"createProjectDataUpdateBatch"})
    groups = [
        ita.DataUpdateGroup(["fil.1"], user_tags=ita.TagUpdate(add_tags=["first"])),
        ita.DataUpdateGroup(["fil.2"], user_tags=ita.TagUpdate(add_tags=["x"])),
        ita.DataUpdateGroup(["fil.1"], user_tags=ita.TagUpdate(remove_tags=["first"])),
    ]
    async with ita.IcaClient(sim.ica_url, api_key="k", retry=QUICK) as ica:
        orch = orchestrator(
            ica, journal=HealAfterRelease(sim), batch_size=1, max_inflight_batches=1
        )
        report = await orch.update(groups)
    by_chunk = {(o.chunk, o.key): o.status for o in report.failures}
    assert by_chunk.get((0, "fil.1")) == "NOT_SUBMITTED", report.counts
    assert by_chunk.get((2, "fil.1")) == "NOT_SUBMITTED", report.counts


async def test_resuming_with_another_batch_size_never_creates_analyses_twice(
    sim: Simulator,
) -> None:
    """A killed run resumed with the same journal but another batch size (no run id): the
    journal picked a fresh run with fresh keys and created every analysis again. It must
    refuse instead, like an explicit run id with other options."""
    journal = CrashAfterPost()
    requests = [nextflow(f"b-{i}") for i in range(4)]
    async with ita.IcaClient(sim.ica_url, api_key="k", retry=QUICK) as ica:
        with pytest.raises(Crash):
            await orchestrator(ica, journal=journal, batch_size=4).create_analyses(requests)
        with pytest.raises(ita.orchestrator.JournalMismatchError):
            await orchestrator(ica, journal=journal, batch_size=2).create_analyses(requests)
        report = await orchestrator(ica, journal=journal, batch_size=4).create_analyses(requests)
    assert report.counts == {"SUCCEEDED": 4}
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}


class CrashBeforeDone(MemoryJournal):
    """A journal whose first ``mark_done`` fails: the chunk's final answer is known, the
    journal still says SENDING (as after a SIGKILL at that await point)."""

    crashes = 1

    async def mark_done(self, lease: Lease, outcomes: Any) -> None:
        if self.crashes:
            self.crashes -= 1
            raise Crash("before mark_done")
        await super().mark_done(lease, outcomes)


async def test_a_rejected_chunk_killed_before_it_was_recorded_does_not_block_the_run() -> None:
    """Chunk refused with a validation 422 (REJECTED), killed before the journal recorded it:
    the resume meets the same 422 and must report REJECTED again, not abort every resume."""
    from ..unit.fakes import FakeTransport
    from .helpers import PROJECT
    from .test_faults import ANALYSES, ICA, problem

    journal = CrashBeforeDone()
    http = FakeTransport()
    http.post(ANALYSES, status=422, payload=problem(422))
    http.post(ANALYSES, status=422, payload=problem(422))
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=QUICK) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal, run_id="rej-1")
        with pytest.raises(Crash):
            await orch.create_analyses([nextflow("a")])
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"REJECTED": 1}
