"""The fleet on one PostgreSQL journal: starvation, late workers, clocks, the claiming loop."""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import LeaseLostError
from ica_tapis_async.orchestrator._chunk import ChunkWorker
from ica_tapis_async.orchestrator._input_end import chunk_count, chunks_of
from ica_tapis_async.orchestrator._journal_protocol import END_DIGEST
from ica_tapis_async.simulator import Simulator
from tests.orchestrator.helpers import nextflow, orchestrator
from tests.scaleout._worker import PROJECT, items


async def test_a_lapsed_lease_nobody_took_keeps_the_batch_id(pg_dsn: str) -> None:
    """A starved worker's lease lapsed before it could record the server's batch id: the id
    is recorded anyway (nobody took the chunk over), so the re-claim follows the batch
    instead of sending it again."""
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=0.2)).lease
        assert lease is not None
        await journal.mark_sending(lease)
        await anyio.sleep(0.3)  # the heartbeats could not get through
        await journal.mark_submitted(lease, "batch-1")
        with pytest.raises(LeaseLostError):  # the lease itself is not extended
            await journal.renew(lease, 5.0)
        again = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=5.0)
        assert again.lease is not None
        assert again.lease.token == lease.token + 1
        assert (again.record.state, again.record.batch_id) == ("submitted", "batch-1")
        assert again.record.attempts == 1


async def test_a_lease_taken_over_still_cannot_record_a_batch_id(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=0.2)).lease
        assert lease is not None
        await journal.mark_sending(lease)
        await anyio.sleep(0.3)
        taken = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=5.0)
        assert taken.granted
        with pytest.raises(LeaseLostError):
            await journal.mark_submitted(lease, "batch-1")
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert record.batch_id is None


async def _link(
    url: str, dsn: str, run_id: str, ids: list[str], *, ttl: float = 5.0
) -> ita.BatchReport:
    async with (
        ita.IcaClient(url, api_key="k") as ica,
        ita.BatchOrchestrator(
            ica, PROJECT, journal=dsn, run_id=run_id, batch_size=20, max_inflight_batches=4,
            poll_initial=0.02, poll_max=0.1, lease_ttl=ttl,
        ) as orchestrator,
    ):  # fmt: skip
        return await orchestrator.link(ids)


async def joined(dsn: str, run_id: str, when: str) -> bool:
    """Whether the late worker starts now: once the run's first chunk is claimed (mid-run),
    or once its end of input is recorded."""
    async with ita.PostgresJournal(dsn) as journal:
        if await journal.get_run(run_id) is None:
            return False
        if when == "mid-run":
            return await journal.get_chunk(run_id, 0) is not None
        end = await journal.get_chunk(run_id, 10)
    return end is not None and end.digest == END_DIGEST


@pytest.mark.parametrize("joins", ["after the end is recorded", "mid-run"])
async def test_a_late_worker_with_a_longer_input_is_refused(pg_dsn: str, joins: str) -> None:
    """Two workers share a run of 10 chunks; a third one's input has one id more. It is
    refused with JournalMismatchError at the run's end of input, sends nothing of its own, and
    the correct workers finish the whole run with every id sent once."""
    ids = items("link", 200)
    async with Simulator(seed=5, step_s=0.2) as sim:
        run_id = f"late-{uuid.uuid4().hex[:8]}"
        reports: list[ita.BatchReport] = []
        refused: list[BaseException] = []

        async def correct() -> None:
            reports.append(await _link(sim.ica_url, pg_dsn, run_id, ids))

        async def late() -> None:
            with anyio.fail_after(60):
                # The other workers' state is in the journal: nothing to wait on but time.
                while not await joined(pg_dsn, run_id, joins):  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            try:
                await _link(sim.ica_url, pg_dsn, run_id, items("link", 201))
            except ita.orchestrator.JournalMismatchError as exc:
                refused.append(exc)

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                tg.start_soon(correct)
                tg.start_soon(correct)
                tg.start_soon(late)
        submissions = dict(sim.stats.link_submissions)
    assert len(refused) == 1
    assert "ended after 10 chunks" in str(refused[0])
    assert len(reports) == 2
    for report in reports:
        assert report.counts == {"LINKED": 200}
    assert set(submissions) == set(ids)  # the extra id was never sent
    assert set(submissions.values()) == {1}


CREATE = "createAnalysisCreationBatch"
QUICK = ita.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001, jitter=False)


def _skew_clock(monkeypatch: pytest.MonkeyPatch, offset_s: float) -> None:
    """Every chunk worker of the orchestrators made from now on has a wall clock off by
    ``offset_s`` (the journal's clock, PostgreSQL's, is right)."""
    make = ita.BatchOrchestrator._worker

    def skewed(self: ita.BatchOrchestrator, *args: Any) -> ChunkWorker:
        worker = make(self, *args)
        worker.wall_clock = lambda: time.time() + offset_s
        return worker

    monkeypatch.setattr(ita.BatchOrchestrator, "_worker", skewed)


@pytest.mark.parametrize(("offset_s", "lifetime_s", "expected"), [
    (-3600.0, 1.0, "IN_DOUBT"),  # slow clock: a key the server forgot must not look fresh
    (3600.0, 600.0, "SUCCEEDED"),  # fast clock: a fresh key must not look forgotten
])  # fmt: skip
async def test_the_key_lifetime_is_judged_on_the_journals_clock(
    pg_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    offset_s: float,
    lifetime_s: float,
    expected: str,
) -> None:
    requests = [nextflow(f"clock-{i}") for i in range(3)]
    async with (
        Simulator(seed=3) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=QUICK) as ica,
    ):
        sim.configure(p_drop_after_post=1.0, fault_operations={"createAnalysisCreationBatch"})
        async with orchestrator(ica, journal=pg_dsn, run_id="clock") as first:
            lost = await first.create_analyses(requests)
        assert lost.counts == {"IN_DOUBT": 3}  # created, answers lost: first sent, by the journal
        sim.configure(p_drop_after_post=0.0)
        posts = sim.stats.requests_by_operation.get(CREATE, 0)
        await anyio.sleep(1.2)  # past the 1 s key lifetime of the slow-clock case
        _skew_clock(monkeypatch, offset_s)
        async with orchestrator(
            ica, journal=pg_dsn, run_id="clock", key_lifetime=lifetime_s
        ) as second:
            report = await second.create_analyses(requests)
        sent = sim.stats.requests_by_operation.get(CREATE, 0) - posts
        made = dict(sim.stats.analyses_by_user_reference)
    assert report.counts == {expected: 3}
    assert sent == (0 if expected == "IN_DOUBT" else 1)  # the same key again: no new ones
    assert set(made.values()) == {1}  # never created twice


@pytest.mark.parametrize("kind", ["link", "analysis", "update"])
@pytest.mark.parametrize("count", [1, 19, 20, 21, 45])
async def test_an_in_memory_input_is_counted_as_it_is_chunked(kind: str, count: int) -> None:
    """The end recorded before sending is where the chunking ends (repeats included)."""
    if kind == "link":
        data: list[Any] = [f"fil.{i % 17:030x}" if i % 3 else f"fil.{i:030x}" for i in range(count)]
    elif kind == "analysis":
        data = [nextflow(f"n-{i}") for i in range(count)]
    else:
        tags = ita.TagUpdate(add_tags=["t"])
        data = [ita.DataUpdateGroup([f"fil.{i % 7:030x}", f"fil.{i:030x}"], user_tags=tags)
                for i in range(count)]  # fmt: skip
    built = [chunk async for chunk in chunks_of(kind)(data, 20)]  # type: ignore[arg-type]
    assert await chunk_count(kind, data, 20) == len(built)  # type: ignore[arg-type]
    assert await chunk_count(kind, iter(data), 20) is None  # type: ignore[arg-type]
