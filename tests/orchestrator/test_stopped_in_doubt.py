"""Stopped jobs plus lost answers: a pending item of a resubmitted chunk is in doubt.

A create whose answer is lost is sent again (links and updates carry no key), so the server may
hold two batches of one chunk: the orphan, which the client never hears of, and the one it
follows. When the followed batch's job stops with items pending, the orphan may have processed
them: those items are ``IN_DOUBT`` (with the reason), neither failed nor ok, and the report
agrees with the server's state item by item.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator, SimulatorConfig

from .helpers import PROJECT, orchestrator

PENDING = {"INITIALISED", "WAITING_RESOURCES", "RUNNING", "UPDATING"}
FAST = ita.RetryPolicy(max_attempts=6, total_timeout=60, initial_backoff=0.01, max_backoff=0.05)
LINK = "createProjectDataLinkingBatch"
UPDATE = "createProjectDataUpdateBatch"


def client(sim: Simulator, sleep: Callable[[float], object] | None = None) -> ita.IcaClient:
    """A client with quick retries, sleeping through ``sleep`` when given."""
    extra = {} if sleep is None else {"sleep": sleep}
    return ita.IcaClient(sim.ica_url, api_key="k", retry=FAST, **extra)  # type: ignore[arg-type]


def stop_the_retry(sim: Simulator) -> Callable[[float], object]:
    """The client's sleep before its retry: the orphan batch runs to its end, the batch the
    retry creates stops with half its items pending."""

    async def sleep(seconds: float) -> None:
        sim.configure(p_drop_after_post=0.0, stop_rate=1.0, stop_pending_share=0.5)
        await anyio.sleep(seconds)

    return sleep


@pytest.mark.parametrize("kind", ["link", "update"])
async def test_pending_items_of_a_resubmitted_stopped_chunk_are_in_doubt(kind: str) -> None:
    ids = [f"fil.d{i:03d}" for i in range(20)]
    operation = LINK if kind == "link" else UPDATE
    async with Simulator(
        SimulatorConfig.faithful(seed=51, p_drop_after_post=1.0, fault_operations={operation})
    ) as sim:
        async with client(sim, stop_the_retry(sim)) as ica:
            orch = orchestrator(ica, poll_timeout=600)
            with anyio.fail_after(30):
                if kind == "link":
                    outcomes = await collect(orch.stream_link(ids))
                else:
                    group = ita.DataUpdateGroup(ids, user_tags=ita.TagUpdate(add_tags=["qc"]))
                    outcomes = await collect(orch.stream_update([group]))
        done = _applied(sim, kind, ids)
        stopped = sim.stats.batches_stopped
    assert stopped == 1
    assert done == set(ids)  # the orphan did them all
    ok = {o.key for o in outcomes if o.ok}
    doubt = [o for o in outcomes if o.status == "IN_DOUBT"]
    assert len(ok) == 10
    assert len(doubt) == 10  # the retry's pending half: processed by the orphan
    assert ok | {o.key for o in doubt} == set(ids)
    assert all(o.resubmitted and not o.ok for o in doubt)
    assert all(
        "stopped" in (o.info or "") and "sent more than once" in (o.info or "") for o in doubt
    )
    assert not [o for o in outcomes if o.status in PENDING]


async def test_pending_items_of_a_chunk_sent_once_stay_failures() -> None:
    """Without a lost answer the stopped batch is the only one: its pending items were never
    processed, and stay failures with the server's status."""
    ids = [f"fil.e{i:03d}" for i in range(20)]
    async with (
        Simulator(SimulatorConfig.faithful(seed=52, stop_rate=1.0, stop_pending_share=0.5)) as sim,
        client(sim) as ica,
    ):
        with anyio.fail_after(30):
            report = await orchestrator(ica, poll_timeout=600).link(ids)
        linked = sim.links(PROJECT)
    assert {o.status for o in report.failures} <= PENDING
    assert len(report.failures) == 10
    assert not {o.key for o in report.failures} & linked


@pytest.mark.parametrize("seed", [61, 62])
async def test_the_report_agrees_with_the_server_item_by_item(seed: int) -> None:
    """Faithful simulator, stopped jobs and lost answers at random, many chunks: every ok item
    is linked, no item reported with a pending status (never processed) is, and an item in
    doubt is one whose chunk was sent more than once."""
    ids = [f"fil.r{seed}{i:04d}" for i in range(300)]
    config = SimulatorConfig.faithful(
        seed=seed, stop_rate=0.5, stop_pending_share=0.5, p_drop_after_post=0.3,
        fault_operations={LINK},
    )  # fmt: skip
    async with Simulator(config) as sim, client(sim) as ica:
        with anyio.fail_after(60):
            orch = orchestrator(ica, batch_size=20, poll_timeout=600)
            outcomes = await collect(orch.stream_link(ids))
        linked = sim.links(PROJECT)
        assert sim.stats.faults.get("drop_after_post", 0) > 0
        assert sim.stats.batches_stopped > 0
    assert sorted(o.key for o in outcomes) == sorted(ids)
    for outcome in outcomes:
        if outcome.ok:
            assert outcome.key in linked, outcome
        elif outcome.status in PENDING:
            assert outcome.key not in linked, outcome
        else:
            assert outcome.status == "IN_DOUBT", outcome
            assert outcome.resubmitted, outcome


async def collect(
    stream: AbstractAsyncContextManager[AsyncIterator[ita.ItemOutcome]],
) -> list[ita.ItemOutcome]:
    """Every outcome of a streamed run."""
    async with stream as outcomes:
        return [outcome async for outcome in outcomes]


def _applied(sim: Simulator, kind: str, ids: list[str]) -> set[str]:
    if kind == "link":
        return set(sim.links(PROJECT)) & set(ids)
    return {i for i in ids if "qc" in sim.data(i)["details"]["tags"]["userTags"]}


async def test_a_rerun_replays_the_doubt_without_sending(tmp_path: Path) -> None:
    """The chunk is done in the journal: a re-run neither sends the items again nor polls,
    and reports the same items in doubt."""
    ids = [f"fil.j{i:03d}" for i in range(20)]
    journal = tmp_path / "run.sqlite"
    async with Simulator(
        SimulatorConfig.faithful(seed=53, p_drop_after_post=1.0, fault_operations={LINK})
    ) as sim:
        async with client(sim, stop_the_retry(sim)) as ica:
            with anyio.fail_after(30):
                first = await collect(orchestrator(ica, journal=journal).stream_link(ids))
        requests = sim.stats.requests
        async with client(sim) as ica:
            with anyio.fail_after(30):
                second = await collect(orchestrator(ica, journal=journal).stream_link(ids))
        assert sim.stats.requests == requests
    doubt = sorted(o.key for o in first if o.status == "IN_DOUBT")
    assert len(doubt) == 10
    assert sorted(o.key for o in second if o.status == "IN_DOUBT") == doubt
