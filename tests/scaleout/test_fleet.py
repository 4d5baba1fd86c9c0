"""The fleet on one PostgreSQL journal: starvation, late workers, clocks, the claiming loop."""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio
import attrs
import psycopg
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import LeaseLostError
from ica_tapis_async.orchestrator._chunk import ChunkWorker
from ica_tapis_async.orchestrator._fleet import Fleet
from ica_tapis_async.orchestrator._input_end import chunk_count, chunks_of
from ica_tapis_async.orchestrator._journal_protocol import END_DIGEST, Claim
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
        # The lease itself is not extended (only a claim ends it, only a renewal extends it).
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert record.lease_expires_at == lease.expires_at < await journal.clock()
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


async def test_heartbeats_renew_every_lease_of_a_worker_in_one_statement(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as journal, ita.PostgresJournal(pg_dsn) as other:
        await journal.open_run("link", "p", "r", "f")
        leases = []
        for i in range(5):
            claim = await journal.claim("r", i, key=f"k{i}", digest="d", owner="a", ttl_s=0.4)
            assert claim.lease is not None
            leases.append(claim.lease)
        await journal.mark_done(leases[1], [])  # done: nothing to renew
        await anyio.sleep(0.5)  # every lease lapsed; chunk 2 is taken over, 4 by nobody
        assert (await other.claim("r", 2, key="k2", digest="d", owner="b", ttl_s=5)).granted
        again = await journal.claim("r", 3, key="k3", digest="d", owner="a", ttl_s=0.4)
        assert again.lease is not None
        fresh = await journal.claim("r", 0, key="k0", digest="d", owner="a", ttl_s=0.4)
        assert fresh.lease is not None
        renewed = await journal.renew_all(
            [fresh.lease, leases[1], leases[2], again.lease, leases[4]], 30
        )
        assert sorted(renewed) == [0, 3, 4]
        clock = await journal.clock()
        assert all(29 < lease.expires_at - clock <= 30 for lease in renewed.values())
        assert renewed[3].token == again.lease.token
        with pytest.raises(ValueError, match="one run and one owner"):
            await journal.renew_all([fresh.lease, attrs.evolve(again.lease, owner="b")], 30)


async def test_heartbeats_and_fenced_writes_never_wait_behind_other_calls(pg_dsn: str) -> None:
    """Every pooled connection busy (slow reads, claims): a heartbeat and a batch id still
    get through at once, on the connections kept for them."""
    async with ita.PostgresJournal(pg_dsn, max_size=2) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=30)).lease
        assert lease is not None
        await journal.mark_sending(lease)

        async def slow(conn: Any) -> None:
            await conn.execute("SELECT pg_sleep(2)")

        async with anyio.create_task_group() as tg:
            for _ in range(4):  # twice the pool: the next ordinary call waits seconds
                tg.start_soon(journal._store.call, slow)
            await anyio.sleep(0.3)
            with anyio.fail_after(1.0):
                renewed = await journal.renew(lease, 30)
                await journal.renew_all([renewed], 30)
                await journal.mark_submitted(renewed, "batch-1")
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert record.batch_id == "batch-1"


def _count_calls(journal: ita.PostgresJournal) -> dict[str, int]:
    """Counts the journal's claims and its transactions of every kind."""
    calls = {"claim": 0, "transactions": 0}
    claim, call = journal.claim, journal._store.call

    async def counted_claim(*args: Any, **kwargs: Any) -> Any:
        calls["claim"] += 1
        return await claim(*args, **kwargs)

    async def counted_call(*args: Any, **kwargs: Any) -> Any:
        calls["transactions"] += 1
        return await call(*args, **kwargs)

    journal.claim = counted_claim  # type: ignore[method-assign]
    journal._store.call = counted_call  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("offset_s", [0.0, 3600.0])
async def test_a_worker_waiting_for_held_chunks_does_not_claim_them_again_and_again(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch, offset_s: float
) -> None:
    """Worker A holds all ten chunks for seconds; worker B (its clock an hour fast, in one
    case) waits for them with a survey per interval, not a claim per chunk per second, and
    reports the whole run."""
    ids = items("link", 200)
    async with Simulator(seed=8, step_s=1.0) as sim:
        run_id = f"wait-{uuid.uuid4().hex[:8]}"
        async with ita.PostgresJournal(pg_dsn) as a, ita.PostgresJournal(pg_dsn) as b:
            calls = _count_calls(b)
            reports: list[ita.BatchReport] = []

            async def work(journal: ita.PostgresJournal) -> None:
                async with ita.IcaClient(sim.ica_url, api_key="k") as ica:
                    orchestrator = ita.BatchOrchestrator(
                        ica, PROJECT, journal=journal, run_id=run_id, batch_size=20,
                        max_inflight_batches=10, poll_initial=0.05, poll_max=0.2, lease_ttl=3.0,
                    )  # fmt: skip
                    reports.append(await orchestrator.link(ids))

            async def held_by_a() -> bool:
                chunks = await a.chunks(run_id) if await a.get_run(run_id) else []
                return len([c for c in chunks if c.owner is not None]) == 10

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(work, a)
                    while not await held_by_a():  # noqa: ASYNC110 - A's state is in the journal
                        await anyio.sleep(0.02)
                    _skew_clock(monkeypatch, offset_s)
                    started = anyio.current_time()
                    tg.start_soon(work, b)
            waited = anyio.current_time() - started
    assert waited > 2.0  # A held the chunks that long while B waited
    assert [r.counts for r in reports] == [{"LINKED": 200}] * 2
    # B: its end of input (twice) and at most a claim per chunk; on main, a claim per held
    # chunk about every second (every 50 ms with a fast clock).
    assert calls["claim"] <= 2 + 10
    # Its other transactions: opening, surveys (one per second at most) and outcome reads.
    assert calls["transactions"] <= calls["claim"] + 4 + 2 * (waited + 1)


async def test_a_worker_whose_heartbeats_are_slow_stops_claiming(pg_dsn: str) -> None:
    """Its heartbeat waits (a row lock held elsewhere, as a crowded server would keep it
    waiting) longer than a heartbeat interval: the worker claims nothing, not even a chunk
    past the run's end, until a heartbeat goes through quickly again; its lease is kept."""
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=1.5)).lease
        assert lease is not None
        fleet = Fleet(journal, "r", "a", 1.5)
        held = [lease]
        lost: list[int] = []
        claims: list[int] = []

        async def claim() -> Claim:
            claims.append(1)
            return await journal.claim("r", 1, key="k1", digest="d", owner="a", ttl_s=1.5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.run)
            with fleet.holding(0, lambda: held[-1], held.append, lambda: lost.append(0)):
                async with await psycopg.AsyncConnection.connect(pg_dsn) as blocker:
                    await blocker.execute(
                        "SELECT 1 FROM ita_chunks WHERE idx = 0 FOR UPDATE"  # a transaction
                    )
                    with anyio.fail_after(5):
                        while fleet.healthy:  # noqa: ASYNC110 - set by the heartbeat task
                            await anyio.sleep(0.02)
                    assert not fleet.fresh(1)
                    tg.start_soon(fleet.claim, 1, "d", claim)
                    await anyio.sleep(0.3)
                    assert claims == []  # paused while the heartbeat is stuck
                    await blocker.rollback()
                with anyio.fail_after(5):
                    while not claims:  # noqa: ASYNC110 - the claim comes from another task
                        await anyio.sleep(0.02)
                assert fleet.healthy
            tg.cancel_scope.cancel()
        assert lost == []
        assert len(held) > 1  # renewed once the lock was gone
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert record.owner == "a"
