"""One journal, many workers: transactions, leases across processes, order of updates."""

from __future__ import annotations

import json
import sqlite3
import sys
import textwrap
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Lease, MemoryJournal, SqliteJournal
from ica_tapis_async.orchestrator._plan import chunk_update_groups
from ica_tapis_async.simulator import Simulator

from ..unit.fakes import FakeTransport
from .helpers import PROJECT, orchestrator
from .test_faults import problem

ICA = "https://ica.test/ica/rest"
UPDATE = f"{ICA}/api/projects/{PROJECT}/dataUpdateBatch"


async def test_a_failed_write_leaves_no_half_written_chunk(tmp_path: Path) -> None:
    """An outcome that cannot be stored midway rolls back the whole change: no outcomes, the
    chunk not done, the lease still held."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    await journal.open_run("link", "p", "r", "fp")
    claim = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=60)
    assert claim.lease is not None
    good = [
        ita.ItemOutcome(kind="link", key=f"fil.{i}", status="LINKED", ok=True) for i in range(5)
    ]
    bad = ita.ItemOutcome(kind="link", key=None, status="LINKED", ok=True)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        await journal.mark_done(claim.lease, [*good, bad, *good])
    assert await journal.outcomes("r", 0) == []
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert not record.final
    assert record.owner == "a"
    await journal.mark_done(claim.lease, good)
    assert await journal.outcomes("r", 0) == good
    await journal.aclose()


async def test_writing_a_25000_item_chunk_leaves_the_event_loop_running(tmp_path: Path) -> None:
    """The SQLite work runs in a worker thread: the loop keeps ticking during a big write."""
    journal = SqliteJournal(tmp_path / "j.sqlite")
    await journal.open_run("link", "p", "r", "fp")
    claim = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=60)
    assert claim.lease is not None
    outcomes = [
        ita.ItemOutcome(kind="link", key=f"fil.{i}", status="LINKED", ok=True)
        for i in range(25_000)
    ]
    ticks = 0
    writing = True

    async def tick() -> None:
        nonlocal ticks
        while writing:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        await journal.mark_done(claim.lease, outcomes)
        writing = False
    assert ticks > 10
    assert len(await journal.outcomes("r", 0)) == 25_000
    await journal.aclose()


SHARED_JOB = textwrap.dedent(
    f"""
    import asyncio, json, sys
    import ica_tapis_async as ita

    async def main(url: str, journal: str) -> None:
        requests = [
            ita.CreateNextflowAnalysis(
                f"s-{{i}}", "pipe-1", ita.NextflowAnalysisInput([ita.AnalysisDataInput("r")])
            )
            for i in range(200)
        ]
        async with ita.IcaClient(url, api_key="key-1") as ica:
            async with ita.BatchOrchestrator(
                ica, "{PROJECT}", journal=journal, batch_size=10, max_inflight_batches=4,
                poll_initial=0.02, poll_max=0.1, lease_ttl=5.0,
            ) as orch:
                report = await orch.create_analyses(requests)
        print(json.dumps(report.to_dict()))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_two_processes_on_one_journal_send_each_chunk_once(
    sim: Simulator, tmp_path: Path
) -> None:
    """Two jobs started at once on one journal agree on the run, share the chunks (each sent
    by one of them) and both report the whole run."""
    sim.configure(step_s=0.02)
    script = tmp_path / "job.py"
    script.write_text(SHARED_JOB)
    journal = tmp_path / "shared.sqlite"
    results: list[dict[str, object]] = []

    async def job() -> None:
        done = await anyio.run_process([sys.executable, str(script), sim.ica_url, str(journal)])
        results.append(json.loads(done.stdout))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(job)
            tg.start_soon(job)
    assert len(results) == 2
    assert results[0]["run_id"] == results[1]["run_id"]
    for result in results:
        assert result["counts"] == {"SUCCEEDED": 200}
        assert result["total"] == 200
    assert sim.stats.batches["analysis"] == 20  # each chunk sent once, by one of the two
    assert len(sim.stats.analyses_by_user_reference) == 200
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}


class _Recording(MemoryJournal):
    """Records when chunks are sent and finished."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    async def mark_sending(self, lease: Lease) -> ita.orchestrator.ChunkRecord:
        self.events.append(("send", lease.index))
        return await super().mark_sending(lease)

    async def mark_done(self, lease: Lease, outcomes: object) -> None:
        self.events.append(("done", lease.index))
        await super().mark_done(lease, outcomes)  # type: ignore[arg-type]


async def test_updates_of_one_data_id_keep_the_callers_order(ica: ita.IcaClient) -> None:
    """Chunks touching the same data id run one after the other, in input order; chunks that
    share no id still run side by side."""
    journal = _Recording()
    groups = [
        ita.DataUpdateGroup(["fil.o1", "fil.o2"], user_tags=ita.TagUpdate(add_tags=["A"])),
        ita.DataUpdateGroup(["fil.o3", "fil.o4"], user_tags=ita.TagUpdate(add_tags=["C"])),
        ita.DataUpdateGroup(["fil.o1"], user_tags=ita.TagUpdate(remove_tags=["A"])),
    ]
    report = await orchestrator(ica, batch_size=2, journal=journal).update(groups)
    assert report.counts == {"UPDATED": 5}
    # chunk 0 = fil.o1, fil.o2; chunk 1 = fil.o3, fil.o4; chunk 2 = fil.o1 again.
    events = journal.events
    assert events.index(("done", 0)) < events.index(("send", 2))
    assert events.index(("send", 1)) < events.index(("done", 0))


async def test_a_later_update_is_held_back_when_an_earlier_one_did_not_finish() -> None:
    """If the earlier chunk touching an id is not final, the later one is not sent either."""
    policy = ita.RetryPolicy(max_attempts=1)
    groups = [
        ita.DataUpdateGroup(["fil.h1"], user_tags=ita.TagUpdate(add_tags=["A"])),
        ita.DataUpdateGroup(["fil.h1"], user_tags=ita.TagUpdate(remove_tags=["A"])),
    ]
    http = FakeTransport()
    http.post(UPDATE, status=503, payload=problem(503))
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=policy) as ica:
        report = await ita.BatchOrchestrator(ica, PROJECT).update(groups)
    posts = sum(len(c) for (m, _), c in http.requests.items() if m == "POST")
    assert report.counts == {"NOT_SUBMITTED": 2}
    assert "input order" in (report.failures[1].info or "")
    assert posts == 1


async def test_a_held_back_update_that_a_killed_run_sent_is_in_doubt() -> None:
    """Held back behind an unfinished earlier update, a chunk that a killed run had already
    sent is IN_DOUBT (the server may have it), not NOT_SUBMITTED."""
    groups = [
        ita.DataUpdateGroup(["fil.k1"], user_tags=ita.TagUpdate(add_tags=["A"])),
        ita.DataUpdateGroup(["fil.k1"], user_tags=ita.TagUpdate(remove_tags=["A"])),
    ]
    journal = MemoryJournal()
    await journal.open_run("update", PROJECT, "killed", "batch_size=1")
    chunks = [c async for c in chunk_update_groups(groups, 1)]
    claim = await journal.claim(
        "killed", 1, key="k", digest=chunks[1].digest, owner="dead", ttl_s=60
    )
    assert claim.lease is not None
    await journal.mark_sending(claim.lease)
    await journal.release(claim.lease)
    http = FakeTransport()
    http.post(UPDATE, status=503, payload=problem(503))
    policy = ita.RetryPolicy(max_attempts=1)
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=policy) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, batch_size=1, run_id="killed", journal=journal)
        report = await orch.update(groups)
    assert [f.status for f in report.failures] == ["NOT_SUBMITTED", "IN_DOUBT"]
