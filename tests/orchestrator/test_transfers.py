"""TransferOrchestrator against the simulated Tapis."""

from __future__ import annotations

import anyio

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .conftest import eventually


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
    assert snapshots[-1].submitted == 21 and snapshots[-1].in_flight == 0
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
        Simulator(seed=4, step_s=0.5) as sim,
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
