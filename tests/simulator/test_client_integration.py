"""Every operation through IcaClient / TapisClient against the simulator, with faults."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator, SimulatorConfig

PROJECT = "1b7e2a54-7d1c-4a63-9a8e-3f1f0c2d9e01"
PIPELINE = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
FAST = ita.RetryPolicy(max_attempts=6, total_timeout=30, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fast simulator with the real services' imperfections (unknown fields, approximate
    counts, the v4-GET rule, UUID pipelines, an idempotency window)."""
    config = SimulatorConfig.faithful(seed=21, transfer_duration_s=30.0)
    async with Simulator(config) as simulator:
        yield simulator


def analyses(*refs: str) -> ita.CreateAnalysisCreationBatch:
    """An analysis batch request with one Nextflow item per user reference."""
    return ita.CreateAnalysisCreationBatch(
        nextflow_items=[
            ita.CreateNextflowAnalysis(r, PIPELINE, ita.NextflowAnalysisInput([])) for r in refs
        ]
    )


async def wait_final(get: object, final: frozenset[str]) -> object:
    """Poll ``get()`` until its job status is final."""
    with anyio.fail_after(10):
        while True:
            batch = await get()  # type: ignore[operator]
            if batch.job is not None and batch.job.status in final:
                return batch
            await anyio.sleep(0.02)


async def test_every_ica_operation(sim: Simulator) -> None:
    """The 15 ICA operations answer through the client with the spec's shapes."""
    async with ita.IcaClient(sim.ica_url, api_key="key", retry=FAST) as ica:
        token = await ica.tokens.create()
        assert token.token
        assert token.token.count(".") == 2

        link = await ica.data_linking_batches.create(
            PROJECT, ["fil.1", "fol.partial", "fil.missing"]
        )
        await wait_final(
            lambda: ica.data_linking_batches.get(PROJECT, link.id), ita.JobStatus.FINAL
        )
        items = await ica.data_linking_batches.list_items(PROJECT, link.id).collect()
        assert {i.request.data_id: i.processing.status for i in items} == {
            "fil.1": "LINKED",
            "fol.partial": "PARTIALLY_LINKED",
            "fil.missing": "FAILED",
        }
        failed = await ica.data_linking_batches.list_items(
            PROJECT, link.id, status="FAILED"
        ).collect()
        assert [i.request.data_id for i in failed] == ["fil.missing"]
        one = await ica.data_linking_batches.get_item(PROJECT, link.id, items[0].id)
        assert one.id == items[0].id
        linked = next(i for i in items if i.request.data_id == "fil.1")
        assert linked.created_project_data is not None

        group = ita.DataUpdateGroup(["fil.1"], user_tags=ita.TagUpdate(add_tags=["qc"]))
        update = await ica.data_update_batches.create(PROJECT, [group])
        done = await wait_final(
            lambda: ica.data_update_batches.get(PROJECT, update.id), ita.JobStatus.FINAL
        )
        assert done.job.status == "SUCCEEDED"  # type: ignore[attr-defined]
        [update_item] = await ica.data_update_batches.list_items(PROJECT, update.id).collect()
        assert (await ica.data_update_batches.get_item(PROJECT, update.id, update_item.id)).id

        batch = await ica.analysis_creation_batches.create(PROJECT, analyses("s-1", "s-2"))
        await wait_final(
            lambda: ica.analysis_creation_batches.get(PROJECT, batch.id), ita.JobStatus.FINAL
        )
        made = await ica.analysis_creation_batches.list_items(PROJECT, batch.id).collect()
        assert {m.request.user_reference for m in made} == {"s-1", "s-2"}
        assert all(m.created_analysis is not None for m in made)
        first = await ica.analysis_creation_batches.get_item(PROJECT, batch.id, made[0].id)
        assert first.created_analysis
        assert first.created_analysis.user_reference in {"s-1", "s-2"}

        transfers = await ica.data_transfers.list(PROJECT).collect()
        assert len(transfers) == 25
        uploads = await ica.data_transfers.list(PROJECT, direction="UPLOAD").collect()
        assert uploads
        assert {t.direction for t in uploads} == {"UPLOAD"}
        by_status = await ica.data_transfers.list(PROJECT, sort="status", page_size=7).collect()
        assert len(by_status) == 25
        ongoing = next(t for t in transfers if t.status not in ita.DataTransferStatus.FINAL)
        await ica.data_transfers.abort(PROJECT, ongoing.id)
        assert (await ica.data_transfers.get(PROJECT, ongoing.id)).status in {
            "ABORTREQUESTED",
            "ABORTED",
        }
        finished = next(t for t in transfers if t.status in ita.DataTransferStatus.FINAL)
        with pytest.raises(ita.ConflictError):
            await ica.data_transfers.abort(PROJECT, finished.id)
        with pytest.raises(ita.NotFoundError):
            await ica.data_transfers.get(PROJECT, "3f1e8d0a-0000-4000-8000-00000000dead")

    async with ita.IcaClient(sim.ica_url, access_token=token.token, retry=FAST) as user:
        # A JWT made from an API key cannot be refreshed; the simulator says so like ICA.
        with pytest.raises(ita.BadRequestError):
            await user.tokens.refresh()


async def test_every_tapis_operation(sim: Simulator) -> None:
    """The 5 Tapis operations answer through the client."""
    async with ita.TapisClient(sim.tapis_url, token="tok", retry=FAST) as tapis:
        task = await tapis.transfers.create(
            [ita.ReqTransferElement("tapis://src/a/?files=3", "tapis://dst/a/")], tag="t-1"
        )
        assert task.status == "ACCEPTED"
        assert task.parent_tasks is None
        got = await tapis.transfers.get(task.uuid or "", include_summary=True)
        with anyio.fail_after(10):
            while got.status not in ita.TransferStatus.FINAL:
                await anyio.sleep(0.02)
                got = await tapis.transfers.get(task.uuid or "", include_summary=True)
        assert got.status == "COMPLETED"
        assert got.total_transfers == 3
        details = await tapis.transfers.details(task.uuid or "")
        assert details.parent_tasks
        assert len(details.parent_tasks[0].children or []) == 3
        recent = await tapis.transfers.list_recent().collect()
        assert recent[0].uuid == task.uuid
        assert "CANCELLED" in (await tapis.transfers.cancel(task.uuid or "") or "").upper()
        assert (await tapis.transfers.get(task.uuid or "")).status == "CANCELLED"
        with pytest.raises(ita.NotFoundError):
            await tapis.transfers.get("3f1e8d0a-0000-4000-8000-00000000dead")
        with pytest.raises(ita.BadRequestError):
            await tapis.transfers.get("not-a-uuid")
        with pytest.raises(ita.RequestValidationError):
            await tapis.transfers.list_recent(page_size=1001).collect()


async def test_idempotency_through_the_client() -> None:
    """Same key + body replays; same key + other body raises; in-progress 409 is waited out."""
    patient = ita.RetryPolicy(
        max_attempts=20, total_timeout=30, initial_backoff=0.05, max_backoff=0.1, jitter=False
    )
    async with Simulator(seed=2, idempotent_processing_s=0.2) as sim:
        async with ita.IcaClient(sim.ica_url, api_key="key", retry=patient) as ica:
            first = await ica.analysis_creation_batches.create(
                PROJECT, analyses("i-1"), idempotency_key="key-1"
            )
            again = await ica.analysis_creation_batches.create(
                PROJECT, analyses("i-1"), idempotency_key="key-1"
            )
            assert again.id == first.id
            assert sim.stats.idempotent_replays == 1
            with pytest.raises(ita.IdempotencyConflictError):
                await ica.analysis_creation_batches.create(
                    PROJECT, analyses("i-2"), idempotency_key="key-1"
                )
            async with anyio.create_task_group() as tg:
                results: list[str] = []

                async def create() -> None:
                    batch = await ica.analysis_creation_batches.create(
                        PROJECT, analyses("i-3"), idempotency_key="key-3"
                    )
                    results.append(batch.id)

                tg.start_soon(create)
                tg.start_soon(create)
            assert len(set(results)) == 1
            assert sim.stats.idempotency_in_progress >= 1
        assert sim.stats.analyses_by_user_reference == {"i-1": 1, "i-3": 1}


@pytest.mark.parametrize(
    ("fault", "expected", "attempts"),
    [
        ({"p_503": 1.0}, ita.ServerError, 2),
        ({"p_500": 1.0}, ita.ServerError, 1),  # 500 is not retried unless the policy says so
        ({"p_drop_before": 1.0}, ita.APIConnectionError, 2),
        ({"p_drop_after_post": 1.0}, ita.APIConnectionError, 2),
        ({"p_slow": 1.0, "slow_s": 2.0}, ita.APITimeoutError, 2),
    ],
)
async def test_each_fault_fails_with_the_right_type(
    fault: dict[str, float], expected: type[Exception], attempts: int
) -> None:
    """When a fault never stops, the client gives up with the right typed error."""
    async with (
        Simulator(seed=3, **fault) as sim,  # type: ignore[arg-type]
        ita.IcaClient(sim.ica_url, api_key="key", retry=ita.RetryPolicy.no_wait(2)) as ica,
    ):
        started = time.monotonic()
        with pytest.raises(expected):
            await ica.analysis_creation_batches.create(PROJECT, analyses("f-1"), timeout=0.3)
        assert time.monotonic() - started < 5
        assert ica.metrics.requests == attempts


@pytest.mark.parametrize(
    "fault",
    [
        {"p_503": 0.5},
        {"p_500": 0.3},
        {"p_drop_before": 0.5},
        {"p_drop_after_post": 0.5},
        {"p_slow": 0.5, "slow_s": 0.3},
    ],
)
async def test_retries_complete_calls_through_faults(fault: dict[str, float]) -> None:
    """Intermittent faults are retried to completion; keyed creates never create twice."""
    async with Simulator(seed=4, **fault) as sim:  # type: ignore[arg-type]
        policy = ita.RetryPolicy(
            max_attempts=20,
            total_timeout=30,
            initial_backoff=0.001,
            max_backoff=0.01,
            retry_statuses=frozenset({500, 502, 503, 504}),
        )
        async with ita.IcaClient(sim.ica_url, api_key="key", retry=policy) as ica:
            for i in range(8):
                batch = await ica.analysis_creation_batches.create(
                    PROJECT, analyses(f"r-{i}"), timeout=0.15
                )
                assert (await ica.analysis_creation_batches.get(PROJECT, batch.id)).id == batch.id
        assert sum(sim.stats.faults.values()) > 0
        assert set(sim.stats.analyses_by_user_reference.values()) == {1}
        assert len(sim.stats.analyses_by_user_reference) == 8


async def test_rate_limit_429_is_retried_and_slows_the_client() -> None:
    """The simulator's 429 + Retry-After is honoured and cuts the client's rate."""
    async with (
        Simulator(seed=5, rate_limit=5, rate_limit_burst=1, retry_after=0.05) as sim,
        ita.IcaClient(sim.ica_url, api_key="key", retry=FAST) as ica,
    ):
        for _ in range(5):
            await ica.data_transfers.list(PROJECT, page_size=5)
        assert sim.stats.throttled > 0
        assert ica.metrics.throttled == sim.stats.throttled
        assert isinstance(ica.limiter, ita.AdaptiveRateLimiter)
        assert ica.limiter.throttle_count > 0
        assert ica.limiter.rate is not None


async def test_exchange_mode_against_the_simulator() -> None:
    """The API key is exchanged for a JWT once, which then authenticates every call."""
    async with Simulator(seed=6, api_keys={"good"}) as sim:
        async with ita.IcaClient(sim.ica_url, api_key="good", exchange_api_key=True) as ica:
            for _ in range(3):
                await ica.data_transfers.list(PROJECT, page_size=1)
        assert sim.stats.tokens_issued == 1
        async with ita.IcaClient(sim.ica_url, api_key="bad", retry=FAST) as ica:
            with pytest.raises(ita.AuthenticationError):
                await ica.data_transfers.list(PROJECT, page_size=1)
