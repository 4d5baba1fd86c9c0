"""TransferOrchestrator at the edges of exactly once: a tag look-up that fails, requests
cancelled before creation, and a cancelled resume of a killed run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import MemoryJournal
from ica_tapis_async.orchestrator._transfer_task import TaskFollower
from ica_tapis_async.simulator import Simulator

from .helpers import eventually
from .test_transfers import request

FEW = ita.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001)


async def test_a_failed_tag_look_up_is_unknown_with_its_tag_and_the_run_goes_on() -> None:
    """Every create's answer is lost, then the list of recent tasks fails past its retries:
    each request is UNKNOWN (with its tag), the report comes back, and a re-run with the
    journal adopts the tasks by tag without creating one twice."""
    journal = MemoryJournal()
    requests = [request(i) for i in range(3)]
    async with (
        Simulator(seed=41, p_drop_after_post=1.0, fault_operations={"createTransferTask"}) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=FEW) as tapis,
    ):

        async def sleep(seconds: float) -> None:
            # Between a lost create and the look-up of its tag: once all three creates are
            # lost, the look-ups start failing.
            await eventually(lambda: sim.stats.faults.get("drop_after_post") == 3)
            sim.configure(
                p_drop_after_post=0.0, p_503=1.0, fault_operations={"getRecentTransferTasks"}
            )
            await anyio.sleep(seconds)

        options = {"journal": journal, "run_id": "lookup", "poll_initial": 0.02}
        with anyio.fail_after(30):
            orch = ita.TransferOrchestrator(tapis, sleep=sleep, **options)  # type: ignore[arg-type]
            first = await orch.run(requests)
        assert first.counts == {"UNKNOWN": 3}
        assert [o.tag for o in first.outcomes] == [f"ita-lookup-{i:06d}" for i in range(3)]
        assert all(o.uuid is None for o in first.outcomes)
        assert all("tag ita-lookup-" in (o.error_message or "") for o in first.outcomes)
        assert sim.stats.tapis_tasks == 3  # created, answers lost
        sim.configure(p_503=0.0)
        with anyio.fail_after(30):
            second = await ita.TransferOrchestrator(tapis, **options).run(requests)  # type: ignore[arg-type]
        assert second.counts == {"COMPLETED": 3}
        assert all(o.recovered for o in second.outcomes)
        assert sim.stats.tapis_tasks == 3


async def test_requests_cancelled_before_creation_stay_resumable() -> None:
    """cancel() stops queued requests (CANCELLED, no uuid); the journal keeps them open, so
    a later run creates exactly those, and replays the tasks that were cancelled."""
    journal = MemoryJournal()
    requests = [request(i) for i in range(6)]
    async with (
        Simulator(seed=42, tapis_step_s=0.3) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        options = {"journal": journal, "run_id": "resumable", "poll_initial": 0.02}
        orch = ita.TransferOrchestrator(tapis, max_in_flight=2, **options)  # type: ignore[arg-type]
        result: list[ita.TransferReport] = []

        async def run() -> None:
            result.append(await orch.run(requests))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await eventually(lambda: len(orch._outstanding) == 2)
                await orch.cancel()
        assert result[0].counts == {"CANCELLED": 6}
        never = [o.index for o in result[0].outcomes if o.uuid is None]
        assert len(never) == 4
        assert sim.stats.tapis_tasks == 2
        run_record = await journal.get_run("resumable")
        assert run_record is not None
        assert run_record.finished_at is None
        sim.configure(tapis_step_s=0.01)
        with anyio.fail_after(30):
            again = await ita.TransferOrchestrator(tapis, **options).run(requests)  # type: ignore[arg-type]
    assert sim.stats.tapis_tasks == 6  # the four never created, once each
    assert [o.status for o in again.outcomes if o.index in never] == ["COMPLETED"] * 4
    cancelled = [o for o in again.outcomes if o.index not in never]
    assert [o.status for o in cancelled] == ["CANCELLED"] * 2
    assert all(o.uuid for o in cancelled)


async def test_a_cancelled_resume_finds_and_cancels_the_killed_runs_task() -> None:
    """A run is killed after its create left but before the answer came back; the resumed
    run is cancelled before it does anything: it looks for the killed run's task by its tag
    and cancels it, instead of calling the request "cancelled before creation"."""
    journal = MemoryJournal()
    requests = [request(0)]
    async with (
        Simulator(
            seed=43,
            tapis_step_s=0.5,
            p_drop_after_post=1.0,
            fault_operations={"createTransferTask"},
        ) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        options = {"journal": journal, "run_id": "killed", "poll_initial": 5.0}
        killed = ita.TransferOrchestrator(tapis, **options)  # type: ignore[arg-type]
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(killed.run, requests)
                # The create reached the server; its answer was lost; the run waits to retry.
                await eventually(lambda: sim.stats.tapis_tasks == 1)
                tg.cancel_scope.cancel()  # the process dies here
        sim.configure(p_drop_after_post=0.0)
        resumed = ita.TransferOrchestrator(tapis, **{**options, "poll_initial": 0.02})  # type: ignore[arg-type]
        await resumed.cancel()
        with anyio.fail_after(30):
            report = await resumed.run(requests)
    outcome = report.outcomes[0]
    assert outcome.uuid is not None  # found by its tag
    assert outcome.recovered
    assert outcome.status == "CANCELLED"
    assert sim.stats.tapis_cancels == 1
    assert sim.stats.tapis_tasks == 1


class _Unreadable:
    """Tapis transfers whose list of recent tasks cannot be read (or cannot be paged)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def list_recent(self, *, page_size: int) -> AsyncIterator[object]:
        raise self.error
        yield  # an async generator, like the real paginator

    async def get(self, task_uuid: str, *, include_summary: bool) -> object:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ita.ResponseValidationError("not a list", model="TransferTask"),
        ita.PaginationError("the cursor repeats"),
        ita.AuthenticationError("401", status=401),
    ],
)
async def test_a_look_up_that_cannot_be_read_is_unknown(error: Exception) -> None:
    """A malformed or endless list is as unknown as a failing one; a 401 still stops all."""
    tapis = SimpleNamespace(transfers=_Unreadable(error))
    follower = TaskFollower(tapis, 0.01, 0.02, 1.0, anyio.sleep, anyio.Event())  # type: ignore[arg-type]
    if isinstance(error, ita.AuthenticationError):
        with pytest.raises(ita.AuthenticationError):
            await follower.look_up(request(0).elements, "tag-1", 0.0)
        return
    found = await follower.look_up(request(0).elements, "tag-1", 0.0)
    assert found.uuid is None
    assert found.unknown
    assert "tag-1" in (found.error or "")


async def test_a_task_whose_answer_cannot_be_read_is_unknown() -> None:
    """A malformed task answer is as unknown as a failing GET: the run still reports."""
    error = ita.ResponseValidationError("status is not a string", model="TransferTask")
    tapis = SimpleNamespace(transfers=_Unreadable(error))
    follower = TaskFollower(tapis, 0.01, 0.02, 1.0, anyio.sleep, anyio.Event())  # type: ignore[arg-type]
    assert await follower.wait("task-1") == "UNKNOWN"
