"""A TransferOrchestrator run against the simulator with faults: one trace of run, tasks, calls."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

import ica_tapis_async as ita
from ica_tapis_async._telemetry import LiveStats, Telemetry
from ica_tapis_async.simulator import Simulator

from .helpers import Otel

RETRY = ita.RetryPolicy(max_attempts=10, total_timeout=60, initial_backoff=0.01, max_backoff=0.05)


def _request(i: int, source: str | None = None) -> ita.TransferRequest:
    return ita.TransferRequest(
        [ita.ReqTransferElement(source or f"tapis://src/r{i}/?files=2", f"tapis://dst/r{i}/")]
    )


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


def _parent(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_faulty_transfer_run_is_one_trace_of_run_tasks_and_calls(otel: Otel) -> None:
    """Run -> task -> request spans: every create, poll and recovery look-up hangs under its
    task, each task names its uuid, final status and file counts, the run its counts."""
    async with (
        Simulator(
            seed=11,
            p_503=0.15,
            p_drop_after_post=0.4,
            fault_operations={"createTransferTask", "getTransferTask"},
        ) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=RETRY, telemetry=otel.telemetry) as tapis,
    ):
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.1, run_id="tr-obs")
        requests = [_request(i) for i in range(8)] + [_request(8, "tapis://src/missing-x")]
        report = await orch.run(requests)
        retries = tapis.metrics.retries
    assert report.counts == {"COMPLETED": 8, "FAILED": 1}
    assert any(o.recovered for o in report.outcomes)  # some creates lost their answer
    assert retries > 0  # and some answers were 503s

    run = otel.span("orchestrator.transfer")
    run_attrs = _attrs(run)
    assert run_attrs["ica_tapis.run.kind"] == "transfer"
    assert run_attrs["ica_tapis.run.id"] == report.run_id
    assert run_attrs["ica_tapis.items.COMPLETED"] == 8
    assert run_attrs["ica_tapis.items.FAILED"] == 1
    assert run.parent is None

    tasks = {_attrs(s)["ica_tapis.task.index"]: s for s in otel.spans() if s.name.endswith(".task")}
    assert sorted(tasks) == list(range(9))
    for index, task in tasks.items():
        outcome = report.outcomes[index]
        attributes = _attrs(task)
        assert task.name == "orchestrator.transfer.task"
        assert _parent(task) == _id(run)
        assert attributes["ica_tapis.run.id"] == report.run_id
        assert attributes["ica_tapis.run.kind"] == "transfer"
        assert attributes["ica_tapis.task.uuid"] == outcome.uuid
        assert attributes["ica_tapis.task.status"] == outcome.status
        assert attributes[f"ica_tapis.items.{outcome.status}"] == 1
        assert attributes["ica_tapis.task.transfers"] == outcome.total_transfers
        assert attributes["ica_tapis.task.transfers.complete"] == outcome.complete_transfers
        events = [(e.name, dict(e.attributes or {})) for e in task.events]
        made = "recovered" if outcome.recovered else "created"
        assert events == [(made, {"ica_tapis.task.uuid": outcome.uuid})]

    # Every request of the run hangs under the task it was made for.
    task_of = {_id(span): index for index, span in tasks.items()}
    calls = [s for s in otel.spans() if s.name.startswith("tapis.")]
    assert {s.name for s in calls} >= {
        "tapis.transfers.create",
        "tapis.transfers.get",
        "tapis.transfers.list_recent",
        "tapis.transfers.details",
    }
    assert all(_parent(s) in task_of for s in calls)
    by_task: dict[int, set[str]] = {index: set() for index in tasks}
    for call in calls:
        by_task[task_of[_parent(call) or 0]].add(call.name)
    for index, names in by_task.items():
        assert {"tapis.transfers.create", "tapis.transfers.get"} <= names, index
        if report.outcomes[index].recovered:
            assert "tapis.transfers.list_recent" in names  # found again by its tag
    assert len({s.context.trace_id for s in otel.spans() if s.context}) == 1
    retried = [e for s in calls for e in s.events if e.name == "retry"]
    assert len(retried) == retries
    assert otel.value("ica_tapis.orchestrator.items", ica_tapis__run__kind="transfer") == 9
    assert (
        otel.value(
            "ica_tapis.orchestrator.items",
            ica_tapis__run__kind="transfer",
            ica_tapis__item__status="FAILED",
        )
        == 1
    )


async def test_a_resumed_transfer_task_says_so_and_leaves_the_live_view(otel: Otel) -> None:
    """A task whose uuid the journal already holds is 'resumed'; while it runs it is pending in
    the live view, and it leaves it at its end."""
    live = LiveStats()
    telemetry = Telemetry(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, live=live
    )
    with telemetry.run("transfer", "r") as run, telemetry.task("transfer", "r", 3) as task:
        task.created("uuid-3", resumed=True)
        snapshot = live.snapshot()
        assert snapshot.pending == 1
        assert snapshot.slowest is not None
        assert snapshot.slowest.batch_id == "uuid-3"
        task.finished("CANCELLED")
        assert live.snapshot().pending == 0
        run.counts({"CANCELLED": 1})
    span = otel.span("orchestrator.transfer.task")
    assert [e.name for e in span.events] == ["resumed"]
    attributes = _attrs(span)
    assert attributes["ica_tapis.task.status"] == "CANCELLED"
    assert "ica_tapis.task.transfers" not in attributes  # unknown, not made up
    assert _parent(span) == _id(otel.span("orchestrator.transfer"))
