"""BatchOrchestrator against the simulator: every item once, with its final status."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, nextflow, orchestrator


def link_input() -> tuple[list[str], dict[str, int]]:
    """2,500 ids of every kind, with the counts the server must end with."""
    files = [f"fil.a{i:05d}" for i in range(2400)]
    missing = [f"fil.missing{i}" for i in range(40)]
    partial = [f"fol.partial{i}" for i in range(20)]
    folders = [f"fol.b{i:03d}" for i in range(40)]
    ids = files + missing + partial + folders
    return ids, {"LINKED": 2440, "FAILED": 40, "PARTIALLY_LINKED": 20}


async def test_link_reports_every_item_once(sim: Simulator, ica: ita.IcaClient) -> None:
    """Counts equal the simulator's truth; failures carry the server's information."""
    ids, expected = link_input()
    progress: list[ita.Progress] = []
    report = await orchestrator(ica, batch_size=500, progress=progress.append).link(ids)
    assert report.total == len(ids)
    assert report.counts == expected
    assert report.batches == 5
    assert sim.stats.batches["linking"] == 5
    assert {f.key for f in report.failures} == {i for i in ids if "missing" in i or "partial" in i}
    assert all(f.request == f.key for f in report.failures)
    assert all(f.info for f in report.failures)
    assert sim.links(PROJECT) >= {i for i in ids if "missing" not in i}
    assert set(sim.stats.link_submissions.values()) == {1}
    assert report.requests == sim.stats.requests
    assert progress[-1].done == len(ids)
    assert progress[-1].in_flight == 0


async def test_relinking_gives_already_linked(ica: ita.IcaClient) -> None:
    """Linking the same ids again: the server says ALREADY_LINKED, still counted once each."""
    ids = [f"fil.r{i}" for i in range(300)]
    await orchestrator(ica).link(ids)
    again = await orchestrator(ica).link(ids)
    assert again.counts == {"ALREADY_LINKED": 300}
    assert again.ok


async def test_duplicates_within_a_batch_are_sent_once(sim: Simulator, ica: ita.IcaClient) -> None:
    """A repeated id in one batch is sent once and reported DUPLICATE."""
    report = await orchestrator(ica).link(["fil.d1", "fil.d2", "fil.d1"])
    assert report.counts == {"LINKED": 2, "DUPLICATE": 1}
    assert report.total == 3
    assert sim.stats.link_submissions["fil.d1"] == 1


async def test_stream_yields_one_outcome_per_item(ica: ita.IcaClient) -> None:
    """The streaming form yields each input item exactly once."""
    ids = [f"fil.s{i}" for i in range(1200)]
    seen: list[str] = []
    async with orchestrator(ica, batch_size=250).stream_link(ids) as outcomes:
        async for outcome in outcomes:
            seen.append(outcome.key)
    assert sorted(seen) == sorted(ids)


async def test_input_is_consumed_lazily(ica: ita.IcaClient) -> None:
    """Memory stays bounded: the input is pulled no further ahead than the batches in flight."""
    pulled = 0

    def ids() -> Iterator[str]:
        nonlocal pulled
        for i in range(5000):
            pulled += 1
            yield f"fil.l{i}"

    ahead: list[int] = []
    async with orchestrator(ica, batch_size=100, max_inflight_batches=2).stream_link(ids()) as out:
        async for _ in out:
            ahead.append(pulled)
    assert len(ahead) == 5000
    assert ahead[0] <= 100 * 4  # 2 in flight, one being cut, one waiting for a slot


async def test_update_applies_tags(sim: Simulator, ica: ita.IcaClient) -> None:
    """Update groups reach the data store; one outcome per data id."""
    groups = [
        ita.DataUpdateGroup(
            [f"fil.u{i}" for i in range(150)], user_tags=ita.TagUpdate(add_tags=["qc-passed"])
        ),
        ita.DataUpdateGroup(
            ["fil.u0", "fil.missing-u"], technical_tags=ita.TagUpdate(add_tags=["t"])
        ),
    ]
    report = await orchestrator(ica, batch_size=100).update(groups)
    assert report.total == 152
    assert report.counts == {"UPDATED": 151, "FAILED": 1}
    [failed] = report.failures
    assert failed.key == "fil.missing-u"
    assert "fil.missing-u" in failed.request.data_ids
    data = sim.data("fil.u0")
    assert "qc-passed" in data["details"]["tags"]["userTags"]
    assert "t" in data["details"]["tags"]["technicalTags"]


async def test_analyses_created_exactly_once(sim: Simulator, ica: ita.IcaClient) -> None:
    """Each request creates one analysis; an unknown pipeline fails its item."""
    requests = [nextflow(f"sample-{i}") for i in range(230)] + [nextflow("bad", "pipe-missing")]
    report = await orchestrator(ica).create_analyses(requests)
    assert report.counts == {"SUCCEEDED": 230, "FAILED": 1}
    assert report.batches == 3
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}
    assert len(sim.stats.analyses_by_user_reference) == 230  # the unknown pipeline made none
    [bad] = report.failures
    assert bad.key == "bad"
    assert bad.info
    assert bad.request == requests[-1]  # the failed analysis request itself


async def test_rejected_batch_is_reported_not_lost(sim: Simulator, ica: ita.IcaClient) -> None:
    """A batch the server refuses (400) reports each of its items REJECTED."""
    sim.configure(max_linking_items=50)
    report = await orchestrator(ica, batch_size=100).link([f"fil.x{i}" for i in range(120)])
    assert report.total == 120
    assert report.counts == {"REJECTED": 100, "LINKED": 20}
    assert "400" in (report.failures[0].info or "")


async def test_bad_input_refused_before_sending(sim: Simulator, ica: ita.IcaClient) -> None:
    """In-memory input with a bad id sends nothing."""
    with pytest.raises(ita.RequestValidationError, match=r"data_ids\[2\]"):
        await orchestrator(ica).link(["fil.1", "fil.2", "not an id"])
    with pytest.raises(ita.RequestValidationError, match="empty"):
        await orchestrator(ica).link([])
    assert sim.stats.requests == 0


async def test_cancelling_leaves_no_task_and_no_request(ica: ita.IcaClient) -> None:
    """Cancelling a run mid-way leaves no task running and no request in flight."""
    import asyncio

    def ours() -> set[asyncio.Task[object]]:
        # The simulator's own connection handlers run in this loop too; they are not ours.
        return {t for t in asyncio.all_tasks() if "web_protocol" not in repr(t)}

    before = ours()
    with anyio.move_on_after(0.05):
        await orchestrator(ica, batch_size=100).link([f"fil.z{i}" for i in range(3000)])
    await asyncio.sleep(0)
    assert ours() == before
    assert isinstance(ica.limiter, ita.AdaptiveRateLimiter)
    assert ica.limiter.in_flight == 0


def test_item_outcomes_are_built_with_keywords_only() -> None:
    """No positional booleans: ``ok`` and ``resubmitted`` are always named."""
    with pytest.raises(TypeError):
        ita.ItemOutcome("link", "fil.1", "LINKED", True)  # type: ignore[call-arg]
    outcome = ita.ItemOutcome(kind="link", key="fil.1", status="LINKED", ok=True)
    assert outcome.ok
    assert not outcome.resubmitted
