"""Lost answers, cancellation and SIGKILL: resumed runs report every item once, create once."""

from __future__ import annotations

import random
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, eventually, nextflow, orchestrator


async def stream_keys(orch: ita.BatchOrchestrator, kind: str, items: list[Any]) -> list[str]:
    """Run a streaming form to the end and return the keys it reported."""
    keys: list[str] = []
    method = {"link": orch.stream_link, "analysis": orch.stream_create_analyses}[kind]
    async with method(items) as outcomes:  # type: ignore[operator]
        async for outcome in outcomes:
            keys.append(outcome.key)
    return keys


async def test_lost_linking_answers_are_resubmitted_and_counted_once(
    sim: Simulator, ica: ita.IcaClient
) -> None:
    """A create whose answer is dropped is sent again; items are counted once, marked re-sent."""
    sim.configure(p_drop_after_post=0.5, fault_operations={"createProjectDataLinkingBatch"})
    ids = [f"fil.lost{i}" for i in range(1000)]
    report = await orchestrator(ica, batch_size=100).link(ids)
    assert report.total == 1000
    assert report.ok
    assert set(report.counts) <= {"LINKED", "ALREADY_LINKED"}
    assert sim.stats.faults.get("drop_after_post", 0) > 0
    assert report.resubmitted > 0
    assert report.retries > 0
    assert sim.links(PROJECT) >= set(ids)


async def test_lost_analysis_answers_replay_instead_of_creating_twice(
    sim: Simulator, ica: ita.IcaClient
) -> None:
    """The same Idempotency-Key is sent again; the server replays; nothing is created twice."""
    sim.configure(p_drop_after_post=0.5, fault_operations={"createAnalysisCreationBatch"})
    requests = [nextflow(f"lost-{i}") for i in range(300)]
    report = await orchestrator(ica, batch_size=30).create_analyses(requests)
    assert report.counts == {"SUCCEEDED": 300}
    assert sim.stats.faults.get("drop_after_post", 0) > 0
    assert sim.stats.idempotent_replays > 0
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_cancel_at_random_points_then_resume(
    sim: Simulator, ica: ita.IcaClient, tmp_path: Path, seed: int
) -> None:
    """Cancelled twice at random moments, a journalled run resumes and reports each item once."""
    rng = random.Random(seed)
    journal = tmp_path / "run.sqlite"
    sim.configure(step_s=0.03)
    ids = [f"fil.c{seed}-{i}" for i in range(2000)]
    requests = [nextflow(f"c{seed}-{i}") for i in range(200)]
    for _ in range(2):
        with anyio.move_on_after(rng.uniform(0.01, 0.3)):
            await orchestrator(ica, journal=journal, batch_size=200).link(ids)
        with anyio.move_on_after(rng.uniform(0.01, 0.3)):
            await orchestrator(ica, journal=journal, batch_size=20).create_analyses(requests)
    linked = await stream_keys(orchestrator(ica, journal=journal, batch_size=200), "link", ids)
    made = await stream_keys(
        orchestrator(ica, journal=journal, batch_size=20), "analysis", requests
    )
    assert sorted(linked) == sorted(ids)
    assert sorted(made) == sorted(r.user_reference for r in requests)
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}
    assert len(sim.stats.analyses_by_user_reference) == 200


async def test_finished_run_is_not_sent_again(
    sim: Simulator, ica: ita.IcaClient, tmp_path: Path
) -> None:
    """Running a finished journalled run again sends no batch and reports the same counts."""
    journal = tmp_path / "run.sqlite"
    ids = [f"fil.f{i}" for i in range(500)]
    async with orchestrator(ica, journal=journal, batch_size=100) as orch:
        first = await orch.link(ids)
    batches = sim.stats.batches["linking"]
    second = await orchestrator(ica, journal=journal, batch_size=100).link(ids)
    assert second.counts == first.counts
    assert second.total == 500
    assert sim.stats.batches["linking"] == batches
    assert second.run_id == first.run_id


async def test_journal_refuses_other_input(ica: ita.IcaClient, tmp_path: Path) -> None:
    """The same journal with different input is a clear error, not a silent mix."""
    journal = tmp_path / "run.sqlite"
    await orchestrator(ica, journal=journal).link(["fil.j1", "fil.j2"])
    with pytest.raises(ita.RequestValidationError, match="other input"):
        await orchestrator(ica, journal=journal).link(["fil.j1", "fil.j3"])


KILLED_JOB = textwrap.dedent(
    f"""
    import asyncio, sys
    import ica_tapis_async as ita

    async def main(url: str, journal: str) -> None:
        requests = [
            ita.CreateNextflowAnalysis(
                f"k-{{i}}", "pipe-1", ita.NextflowAnalysisInput([ita.AnalysisDataInput("r")])
            )
            for i in range(400)
        ]
        async with ita.IcaClient(url, api_key="key-1") as ica:
            orch = ita.BatchOrchestrator(
                ica, "{PROJECT}", journal=journal, batch_size=20, max_inflight_batches=3,
                poll_initial=0.05, poll_max=0.2, lease_ttl=1.0,
            )
            await orch.create_analyses(requests)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_sigkill_then_resume_creates_each_analysis_once(
    sim: Simulator, ica: ita.IcaClient, tmp_path: Path
) -> None:
    """A job killed with SIGKILL mid-run resumes from its journal: every analysis made once."""
    sim.configure(step_s=0.05, analysis_run_s=0.2)
    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)
    journal = tmp_path / "run.sqlite"
    process = await anyio.open_process([sys.executable, str(script), sim.ica_url, str(journal)])
    async with process:
        await eventually(lambda: sim.stats.batches.get("analysis", 0) >= 4)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    before = sum(sim.stats.analyses_by_user_reference.values())
    assert 0 < before < 400

    requests = [
        ita.CreateNextflowAnalysis(
            f"k-{i}", "pipe-1", ita.NextflowAnalysisInput([ita.AnalysisDataInput("r")])
        )
        for i in range(400)
    ]
    keys = await stream_keys(
        orchestrator(ica, journal=journal, batch_size=20), "analysis", requests
    )
    assert sorted(keys) == sorted(f"k-{i}" for i in range(400))
    assert len(sim.stats.analyses_by_user_reference) == 400
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}


async def test_bad_credentials_stop_the_run_and_are_not_journaled(tmp_path: Path) -> None:
    """A 401 stops the run; the same journal with the right key then does everything."""
    journal = tmp_path / "run.sqlite"
    ids = [f"fil.a{i}" for i in range(300)]
    async with Simulator(seed=8, api_keys={"good"}) as sim:
        async with ita.IcaClient(sim.ica_url, api_key="wrong") as bad:
            with pytest.raises(ita.AuthenticationError):
                await orchestrator(bad, journal=journal, batch_size=100).link(ids)
        async with ita.IcaClient(sim.ica_url, api_key="good") as good:
            report = await orchestrator(good, journal=journal, batch_size=100).link(ids)
    assert report.counts == {"LINKED": 300}


async def test_a_vanished_batch_is_reported_unknown_and_looked_at_again(tmp_path: Path) -> None:
    """Polling a journalled batch the server no longer knows: UNKNOWN now, retried later."""
    journal = tmp_path / "run.sqlite"
    ids = [f"fil.v{i}" for i in range(50)]
    async with Simulator(seed=9, step_s=5.0) as first:
        async with ita.IcaClient(first.ica_url, api_key="k") as ica:
            with anyio.move_on_after(0.5):
                await orchestrator(ica, journal=journal).link(ids)
        assert first.stats.batches["linking"] == 1
    async with (
        Simulator(seed=9) as second,  # a server that never saw the batch
        ita.IcaClient(second.ica_url, api_key="k") as ica,
    ):
        report = await orchestrator(ica, journal=journal).link(ids)
    assert report.counts == {"UNKNOWN": 50}
    assert "not found" in (report.failures[0].info or "").lower()
