"""The clients and orchestrators meet the real services' failures: stopped jobs, failed Tapis
children, 409 "still in progress" from an idempotency window, and the ALREADY_LINKED race."""

from __future__ import annotations

from pathlib import Path

import anyio

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, orchestrator

PIPELINE = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
FAST = ita.RetryPolicy(max_attempts=8, total_timeout=60, initial_backoff=0.01, max_backoff=0.05)
STOPPED_INFO = "The job was stopped before this item was processed."
PENDING = {"INITIALISED", "WAITING_RESOURCES", "RUNNING"}


async def test_stopped_job_reports_its_unprocessed_items() -> None:
    """A job that stops with items pending: the processed items keep their outcome, the rest
    are final too, reported as the server left them (a pending status such as
    WAITING_RESOURCES, not UNKNOWN: the job will never move them again), not ok, with the
    server's explanation and their input, and the run does not wait for poll_timeout."""
    async with (
        Simulator(seed=2, stop_rate=1.0, stop_pending_share=0.25) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=FAST) as ica,
    ):
        ids = [f"fil.s{i:03d}" for i in range(40)]
        with anyio.fail_after(20):
            report = await orchestrator(ica, poll_timeout=600).link(ids)
        linked = {i for i in ids[:30]}
        assert report.counts.get("LINKED") == 30
        assert report.total == 40
        assert not report.ok
        assert {f.key for f in report.failures} == set(ids[30:])
        assert all(not f.ok and f.info == STOPPED_INFO for f in report.failures)
        assert all(f.status in PENDING for f in report.failures)
        assert all(f.request == f.key for f in report.failures)
        assert sim.links(PROJECT) == linked


async def test_stopped_job_is_final_in_the_journal(tmp_path: Path) -> None:
    """A stopped job's pending items are final: the chunk is done in the SQLite journal, so
    a re-run on it replays the same report without polling a batch that will never move."""
    journal = tmp_path / "run.sqlite"
    async with (
        Simulator(seed=3, stop_rate=1.0, stop_pending_share=0.5) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=FAST) as ica,
    ):
        ids = [f"fil.t{i:03d}" for i in range(20)]
        with anyio.fail_after(20):
            first = await orchestrator(ica, journal=journal, poll_timeout=600).link(ids)
        assert first.counts.get("LINKED") == 10
        assert {f.status for f in first.failures} <= PENDING
        assert "UNKNOWN" not in first.counts
        requests = sim.stats.requests
        with anyio.fail_after(20):
            second = await orchestrator(ica, journal=journal, poll_timeout=600).link(ids)
        assert sim.stats.requests == requests  # replayed from the journal: no poll at all
        assert second.run_id == first.run_id
        assert second.counts == first.counts
        assert [(f.key, f.status, f.info) for f in second.failures] == [
            (f.key, f.status, f.info) for f in first.failures
        ]


async def test_transfer_orchestrator_reports_which_file_failed_and_why() -> None:
    """A required child failing all three tries fails its task: the report carries the file
    and the reason; an optional element's failure leaves its task COMPLETED."""
    async with (
        Simulator(tapis_child_fail_rate=1.0, tapis_step_s=0.01, tapis_file_s=0.005) as sim,
        ita.TapisClient(sim.tapis_url, token="tok", retry=FAST) as tapis,
    ):
        required = ita.TransferRequest(
            [ita.ReqTransferElement("tapis://src/req?files=2", "tapis://dst/req")]
        )
        optional = ita.TransferRequest(
            [ita.ReqTransferElement("tapis://src/opt?files=1", "tapis://dst/opt", optional=True)]
        )
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.1)
        report = await orch.run([required, optional])
        failed, completed = report.outcomes
        assert failed.status == "FAILED"
        assert not failed.ok
        assert failed.error_message is not None
        assert failed.error_message.startswith(
            "FILES_TXFR_CHILD_ERROR Transfer of tapis://src/req/file_00000.dat failed after 3 tries"
        )
        assert completed.status == "COMPLETED"
        assert report.failures == [failed]
        assert failed.uuid is not None
        details = await tapis.transfers.details(failed.uuid)
        (parent,) = details.parent_tasks or []
        assert parent.status == "FAILED"
        child = (parent.children or [])[0]
        assert (child.status, child.retries) == ("FAILED", 3)
        assert child.error_message == failed.error_message


async def test_keyed_create_meets_409_and_still_creates_once() -> None:
    """The first attempt times out while the server is still processing it; the retry with
    the same Idempotency-Key gets 409 "in progress", then the stored answer: one batch."""
    timeouts = ita.Timeouts(total=0.1)
    patient = ita.RetryPolicy(
        max_attempts=30, total_timeout=30, initial_backoff=0.02, max_backoff=0.1
    )
    async with (
        Simulator(idempotent_processing_s=0.3, uuid_pipeline_ids=True) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=patient, timeouts=timeouts) as ica,
    ):
        request = ita.CreateNextflowAnalysis(
            "only-once",
            PIPELINE,
            ita.NextflowAnalysisInput([ita.AnalysisDataInput("reads", data_ids=["fil.1"])]),
        )
        batch = await ica.analysis_creation_batches.create(
            PROJECT,
            ita.CreateAnalysisCreationBatch(nextflow_items=[request]),
            idempotency_key="key-409",
        )
        assert batch.id
        assert sim.stats.idempotency_in_progress >= 1
        assert sim.stats.idempotent_replays >= 1
        assert sim.stats.batches["analysis"] == 1


async def test_concurrent_runs_race_for_the_same_ids() -> None:
    """Two runs link overlapping ids at once: each id is LINKED by exactly one of them and
    ALREADY_LINKED in the other, whichever batch reached it first."""
    async with (
        Simulator(seed=5, item_rate=2000.0) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=FAST) as ica,
    ):
        shared = [f"fil.r{i:03d}" for i in range(200)]
        first_only = [f"fil.a{i:03d}" for i in range(100)]
        second_only = [f"fil.b{i:03d}" for i in range(50)]
        async with anyio.create_task_group() as tg:
            reports: dict[str, ita.BatchReport] = {}

            async def run(name: str, ids: list[str]) -> None:
                reports[name] = await orchestrator(ica, batch_size=100).link(ids)

            tg.start_soon(run, "first", first_only + shared)
            tg.start_soon(run, "second", shared[::-1] + second_only)
        first, second = reports["first"], reports["second"]
        assert first.ok
        assert second.ok
        linked = first.counts.get("LINKED", 0) + second.counts.get("LINKED", 0)
        already = first.counts.get("ALREADY_LINKED", 0) + second.counts.get("ALREADY_LINKED", 0)
        assert linked == len(shared) + len(first_only) + len(second_only)
        assert already == len(shared)
        assert first.counts.get("ALREADY_LINKED", 0) > 0  # the later-created batch can win
        assert sim.links(PROJECT) == set(shared + first_only + second_only)
