"""TransferOrchestrator against the simulated Tapis."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import eventually


def request(i: int, src: str | None = None, optional: bool = False) -> ita.TransferRequest:
    """A one-element transfer request."""
    return ita.TransferRequest(
        [
            ita.ReqTransferElement(
                src or f"tapis://src/run{i}/?files=3", f"tapis://dst/run{i}/", optional=optional
            )
        ]
    )


async def test_many_tasks_reach_a_final_status() -> None:
    """All tasks are created, followed and reported; a missing required source fails."""
    async with Simulator(seed=3) as sim, ita.TapisClient(sim.tapis_url, token="t") as tapis:
        snapshots: list[ita.Progress] = []
        orch = ita.TransferOrchestrator(
            tapis, poll_initial=0.02, poll_max=0.2, progress=snapshots.append
        )
        requests = [request(i) for i in range(20)] + [request(99, "tapis://src/missing-x")]
        report = await orch.run(requests)
    assert snapshots[-1].finished == {"COMPLETED": 20, "FAILED": 1}
    assert snapshots[-1].submitted == 21
    assert snapshots[-1].in_flight == 0
    assert len(report.outcomes) == 21
    assert report.counts == {"COMPLETED": 20, "FAILED": 1}
    assert report.failures[0].index == 20
    assert all(o.uuid for o in report.outcomes)
    assert sim.stats.tapis_tasks == 21


async def test_lost_create_is_recovered_by_tag() -> None:
    """A create whose answer is dropped is found again by its tag, not created twice."""
    async with (
        Simulator(seed=5, p_drop_after_post=0.5, fault_operations={"createTransferTask"}) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.2)
        report = await orch.run([request(i) for i in range(10)])
    assert report.counts == {"COMPLETED": 10}
    assert sim.stats.tapis_tasks == 10
    assert any(o.recovered for o in report.outcomes)


async def test_cancel_outstanding_tasks() -> None:
    """cancel() cancels what is still running; the report says CANCELLED."""
    async with (
        Simulator(seed=4, tapis_step_s=0.5) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.05, poll_max=0.1)
        result: list[ita.TransferReport] = []

        async def run() -> None:
            result.append(await orch.run([request(i) for i in range(5)]))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await eventually(lambda: len(orch._outstanding) == 5)
            assert await orch.cancel() == 5
    assert result[0].counts == {"CANCELLED": 5}
    assert sim.stats.tapis_cancels == 5


async def test_a_journalled_run_resumes_without_creating_a_task_twice(tmp_path: Path) -> None:
    """Stopped at random moments, a journalled transfer run resumes: each task made once."""
    journal = tmp_path / "t.sqlite"
    requests = [request(i) for i in range(12)]
    async with (
        Simulator(seed=6, tapis_step_s=0.05) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        for limit in (0.05, 0.2):
            with anyio.move_on_after(limit):
                orch = ita.TransferOrchestrator(
                    tapis, journal=journal, max_in_flight=4, poll_initial=0.02, poll_max=0.1
                )
                await orch.run(requests)
            await orch.aclose()
        assert 0 < sim.stats.tapis_tasks < 12
        orch = ita.TransferOrchestrator(tapis, journal=journal, poll_initial=0.02, poll_max=0.1)
        report = await orch.run(requests)
        await orch.aclose()
    assert report.counts == {"COMPLETED": 12}
    assert sim.stats.tapis_tasks == 12
    assert len({o.tag for o in report.outcomes}) == 12


async def test_tag_recovery_never_adopts_an_older_task_with_the_tag() -> None:
    """A lost create is recovered only by a task created after the attempt, same elements."""
    async with (
        Simulator(seed=7) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        older = await tapis.transfers.create(list(request(1).elements), tag="mine")
        await anyio.sleep(0.05)
        sim.configure(p_drop_before=1.0, fault_operations={"createTransferTask"})
        orch = ita.TransferOrchestrator(
            tapis, poll_initial=0.01, poll_max=0.02, recovery_skew_s=0.0
        )
        orch_request = ita.TransferRequest(request(1).elements, tag="mine")
        report = await orch.run([orch_request])
    assert report.outcomes[0].uuid != older.uuid
    assert report.counts == {"NOT_CREATED": 1}


async def test_generated_tags_differ_between_runs() -> None:
    """Two runs of one orchestrator, and two orchestrators, never share a generated tag."""
    async with Simulator(seed=8) as sim, ita.TapisClient(sim.tapis_url, token="t") as tapis:
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.01, run_id="same")
        first = await orch.run([request(0)])
        second = await orch.run([request(0)])
        other = await ita.TransferOrchestrator(tapis, poll_initial=0.01, run_id="same").run(
            [request(0)]
        )
    tags = [r.outcomes[0].tag for r in (first, second, other)]
    assert len(set(tags)) == 3


async def test_cancel_stops_queued_requests_and_does_not_spin() -> None:
    """Requests still queued are not created after cancel(); polling does not spin."""
    async with (
        Simulator(seed=9, tapis_step_s=0.3) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        orch = ita.TransferOrchestrator(tapis, max_in_flight=2, poll_initial=0.05, poll_max=0.2)
        result: list[ita.TransferReport] = []

        async def run() -> None:
            result.append(await orch.run([request(i) for i in range(6)]))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await eventually(lambda: len(orch._outstanding) == 2)
            before = tapis.metrics.requests
            started = time.monotonic()
            assert await orch.cancel() == 2
        elapsed = time.monotonic() - started
    report = result[0]
    assert sim.stats.tapis_tasks == 2
    assert report.counts == {"CANCELLED": 6}
    assert [o.uuid is None for o in report.outcomes].count(True) == 4
    # Two cancels, then at most one poll per task per poll_initial: no busy loop.
    assert tapis.metrics.requests - before <= 2 + 2 * (elapsed / 0.05 + 2)


async def test_a_task_whose_status_cannot_be_read_is_unknown_not_fatal() -> None:
    """GETs failing past the retries make that task UNKNOWN; the run still reports."""
    policy = ita.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001)
    async with (
        Simulator(seed=10, p_503=1.0, fault_operations={"getTransferTask"}) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=policy) as tapis,
    ):
        report = await ita.TransferOrchestrator(tapis, poll_initial=0.01).run(
            [request(i) for i in range(3)]
        )
    assert report.counts == {"UNKNOWN": 3}
    assert all(o.uuid for o in report.outcomes)
    assert sim.stats.tapis_tasks == 3


async def test_a_401_stops_the_transfer_run_at_the_first_answer() -> None:
    """Bad credentials stop the run with AuthenticationError itself, not a group."""
    async with (
        Simulator(seed=11, tapis_tokens=frozenset({"good"})) as sim,
        ita.TapisClient(sim.tapis_url, token="bad") as tapis,
    ):
        orch = ita.TransferOrchestrator(tapis, max_in_flight=4, poll_initial=0.01)
        with pytest.raises(ita.AuthenticationError):
            await orch.run([request(i) for i in range(8)])
    assert sim.stats.tapis_tasks == 0


async def test_tag_recovery_reads_past_the_first_page_of_recent_tasks() -> None:
    """A lost task buried under more than a page of newer tasks is still found by its tag."""
    from ica_tapis_async.orchestrator._transfer_task import TaskFollower

    async with Simulator(seed=12) as sim, ita.TapisClient(sim.tapis_url, token="t") as tapis:
        since = time.time()
        target = await tapis.transfers.create(list(request(0).elements), tag="deep")
        for i in range(120):
            await tapis.transfers.create(list(request(i + 1).elements), tag=f"other-{i}")
        follower = TaskFollower(tapis, 0.01, 0.02, 10.0, anyio.sleep, anyio.Event(), 5.0)
        found = await follower.find(request(0).elements, "deep", since)
        assert found == target.uuid
        assert await follower.find(request(0).elements, "deep", time.time() + 60) is None
