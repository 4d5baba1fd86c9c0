"""The clients and orchestrators against SimulatorConfig.faithful(): approximate counts, unknown
fields, the v4-GET Content-Type rule, UUID pipelines, idempotency windows and retried Tapis
children change nothing in the reports of a correct client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator, SimulatorConfig

from .helpers import PROJECT, orchestrator

PIPELINE = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
MISSING_PIPELINE = "00000000-0000-4000-8000-000000000001"
FAST = ita.RetryPolicy(max_attempts=8, total_timeout=60, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
async def faithful() -> AsyncIterator[Simulator]:
    """A simulator with every outcome-neutral imperfection of the real services on."""
    async with Simulator(SimulatorConfig.faithful(seed=11)) as simulator:
        yield simulator


@pytest.fixture
async def ica(faithful: Simulator) -> AsyncIterator[ita.IcaClient]:
    """A client of the faithful simulator with quick retries."""
    async with ita.IcaClient(faithful.ica_url, api_key="key-1", retry=FAST) as client:
        yield client


def _analysis(ref: str, pipeline: str = PIPELINE) -> ita.CreateNextflowAnalysis:
    return ita.CreateNextflowAnalysis(
        ref,
        pipeline,
        ita.NextflowAnalysisInput([ita.AnalysisDataInput("reads", data_ids=["fil.1"])]),
    )


async def test_link_report_is_exact_although_the_counts_are_not(
    faithful: Simulator, ica: ita.IcaClient
) -> None:
    """remainingRecords strays and goes missing: the orchestrator's "numbers do not add up"
    fallback reads the items, and the report still equals the simulator's truth."""
    files = [f"fil.a{i:04d}" for i in range(1200)]
    missing = [f"fil.missing{i}" for i in range(30)]
    partial = [f"fol.partial{i}" for i in range(10)]
    report = await orchestrator(ica, batch_size=400).link(files + missing + partial)
    assert report.counts == {"LINKED": 1200, "FAILED": 30, "PARTIALLY_LINKED": 10}
    assert {f.key for f in report.failures} == set(missing + partial)
    assert faithful.stats.counts_skewed > 0
    assert faithful.links(PROJECT) >= set(files)


async def test_update_report_is_exact(faithful: Simulator, ica: ita.IcaClient) -> None:
    """Update batches meet the same counts and unknown fields."""
    groups = [
        ita.DataUpdateGroup(
            [f"fil.u{i}" for i in range(300)] + ["fil.missing-u"],
            user_tags=ita.TagUpdate(add_tags=["t"]),
        )
    ]
    report = await orchestrator(ica, batch_size=120).update(groups)
    assert report.counts == {"UPDATED": 300, "FAILED": 1}
    assert "t" in faithful.data("fil.u7")["details"]["tags"]["userTags"]


async def test_analyses_exactly_once_with_an_idempotency_window(
    faithful: Simulator, ica: ita.IcaClient
) -> None:
    """UUID pipelines pass, an unknown one fails its item only; each analysis is created once."""
    requests = [_analysis(f"s-{i}") for i in range(40)] + [_analysis("bad", MISSING_PIPELINE)]
    report = await orchestrator(ica, batch_size=15).create_analyses(requests)
    assert report.counts == {"SUCCEEDED": 40, "FAILED": 1}
    (failure,) = report.failures
    assert failure.key == "bad"
    assert failure.info == "Pipeline not found."
    assert set(faithful.stats.analyses_by_user_reference.values()) == {1}
    assert faithful.stats.analyses_created == 40


async def test_non_uuid_pipeline_is_refused_before_any_analysis(
    faithful: Simulator, ica: ita.IcaClient
) -> None:
    """The real service refuses a pipelineId that is not a UUID with a 400 Problem."""
    with pytest.raises(ita.BadRequestError) as refused:
        await ica.analysis_creation_batches.create(
            PROJECT, ita.CreateAnalysisCreationBatch(nextflow_items=[_analysis("x", "pipe-1")])
        )
    assert "pipelineId" in str(refused.value)
    assert faithful.stats.analyses_created == 0


async def test_resources_ignore_unknown_fields_and_pass_the_v4_get_rule(
    ica: ita.IcaClient,
) -> None:
    """Every ICA operation the client offers answers through the stricter simulator."""
    batch = await ica.data_linking_batches.create(PROJECT, ["fil.v1", "fil.v2"])
    items = await ica.data_linking_batches.list_items(PROJECT, batch.id).collect()  # v4 GET
    assert {i.request.data_id for i in items} == {"fil.v1", "fil.v2"}
    one = await ica.data_linking_batches.get_item(PROJECT, batch.id, items[0].id)
    assert one.id == items[0].id
    assert (await ica.data_linking_batches.get(PROJECT, batch.id)).id == batch.id
    transfers = await ica.data_transfers.list(PROJECT, page_size=4).collect()
    assert len(transfers) == 25
    assert len({t.id for t in transfers}) == 25
    token = await ica.tokens.create()
    assert token.token


async def test_tapis_retries_leave_every_task_completed(faithful: Simulator) -> None:
    """Children that fail a try and then succeed: every task COMPLETES; details show retries."""
    faithful.configure(tapis_step_s=0.01, tapis_file_s=0.005, tapis_retry_rate=0.5)
    async with ita.TapisClient(faithful.tapis_url, token="tok", retry=FAST) as tapis:
        requests = [
            ita.TransferRequest([ita.ReqTransferElement(f"tapis://src/d{i}?files=6", "tapis://x")])
            for i in range(6)
        ]
        report = await ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.1).run(
            requests
        )
        assert report.counts == {"COMPLETED": 6}
        assert all(o.complete_transfers == o.total_transfers == 6 for o in report.outcomes)
        uuid = report.outcomes[0].uuid
        assert uuid is not None
        details = await tapis.transfers.details(uuid)
        children = [c for p in details.parent_tasks or [] for c in p.children or []]
        assert max(c.retries or 0 for c in children) >= 2
        assert faithful.stats.tapis_child_retries > 0
