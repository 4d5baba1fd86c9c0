"""PostgreSQL journal: a lease expiry further ahead than lease_ttl is never trusted (issue 19,
point 5). The database's clock cannot be stepped from a test; a lease written before a
backward step looks exactly like one whose expiry is moved ahead, so the tests move it."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import psycopg

import ica_tapis_async as ita
from ica_tapis_async.orchestrator._fleet import Fleet, running
from ica_tapis_async.orchestrator._journal_protocol import ChunkRecord
from ica_tapis_async.orchestrator._lease import Held, LeasedWork, run_leased
from ica_tapis_async.orchestrator._plan import chunk_data_ids, chunk_key
from ica_tapis_async.orchestrator._report import ItemOutcome
from ica_tapis_async.simulator import Simulator
from tests.orchestrator.helpers import PROJECT, orchestrator


async def _step_back(dsn: str, seconds: float) -> None:
    """Every lease of the database now ends ``seconds`` later, as after a clock step back."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("UPDATE ita_chunks SET expires = expires + %s", (seconds,))


async def test_a_lease_from_before_a_backward_step_lasts_at_most_its_ttl(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "fp")
        dead = await journal.claim("r", 0, key="k", digest="d", owner="dead", ttl_s=1.0)
        assert dead.lease is not None
        await _step_back(pg_dsn, 20.0)
        first = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)
        assert not first.granted
        assert first.record.owner == "dead"
        assert first.record.lease_expires_at is not None
        assert first.record.lease_expires_at <= time.time() + 2.0  # 1 s, and clock skew
        await anyio.sleep(1.1)
        taken = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)
        assert taken.lease is not None
        assert taken.lease.token == dead.lease.token + 1


async def test_a_live_holder_keeps_its_lease_across_a_backward_step(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "fp")
        held = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=1.0)
        assert held.lease is not None
        await _step_back(pg_dsn, 20.0)
        assert not (await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)).granted
        lease = await journal.renew(held.lease, 1.0)
        await anyio.sleep(0.6)
        assert not (await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)).granted
        await journal.mark_sending(lease)


async def test_a_dead_workers_chunk_is_taken_over_in_lease_ttl_after_a_step(
    pg_dsn: str,
) -> None:
    """The issue's case: a 20 s step, lease_ttl=1: the run took 21 s; now about 2 s
    (a lease_ttl watching the lease unrenewed, one after the cut)."""
    ids = [f"fil.s{i}" for i in range(6)]
    async with (
        Simulator(seed=7) as sim,
        ita.IcaClient(sim.ica_url, api_key="k") as ica,
        ita.PostgresJournal(pg_dsn) as journal,
    ):
        await journal.open_run("link", PROJECT, "s", "batch_size=3")
        chunk = await anext(chunk_data_ids(ids, 3))
        await journal.claim(
            "s", 0, key=chunk_key("s", "link", 0, chunk.digest), digest=chunk.digest,
            owner="dead", ttl_s=1.0,
        )  # fmt: skip
        await _step_back(pg_dsn, 20.0)
        began = time.monotonic()
        orch = orchestrator(ica, journal=journal, run_id="s", batch_size=3, lease_ttl=1.0)
        report = await orch.link(ids)
        elapsed = time.monotonic() - began
    assert report.counts == {"LINKED": 6}
    assert elapsed < 8.0, elapsed


async def test_a_forward_step_never_hands_a_live_holders_chunk_to_another_worker(
    pg_dsn: str,
) -> None:
    """Every lease lapses at once (moved 20 s back, as after the database's clock stepped
    forward); the holder heartbeats with the same lease_ttl, so no other worker starts on its
    chunk while it works."""
    working: set[str] = set()
    overlaps: list[set[str]] = []
    started: list[str] = []

    work_of = _work_of(working, overlaps, started)
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "fp")

        async def worker(name: str) -> None:
            await run_leased(
                journal, "r", 0, key="k", digest="d", owner=name, ttl_s=1.0,
                work=work_of(name),
            )  # fmt: skip

        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "a")
            await anyio.sleep(0.2)
            tg.start_soon(worker, "b")
            await anyio.sleep(0.18)  # just after a's first heartbeat (at a third of 1 s)
            await _step_back(pg_dsn, -20.0)
    assert overlaps == []
    assert "b" not in started, started


async def test_a_forward_step_never_hands_a_live_holders_chunk_to_a_fleet_worker(
    pg_dsn: str,
) -> None:
    """The same through the fleet (a survey of waited chunks, renew_all heartbeats): b's
    survey finds a's lease lapsed on the journal's clock, but a's heartbeats keep changing
    it, so b never claims it; b gets a's outcome once a is done."""
    working: set[str] = set()
    overlaps: list[set[str]] = []
    started: list[str] = []
    work_of = _work_of(working, overlaps, started)
    got: dict[str, bool] = {}

    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "fp")

        async def worker(name: str) -> None:
            fleet = Fleet(journal, "r", name, 1.0)
            async with running(fleet):
                _, got[name] = await run_leased(
                    journal, "r", 0, key="k", digest="d", owner=name, ttl_s=1.0,
                    work=work_of(name), fleet=fleet,
                )  # fmt: skip

        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "a")
            await anyio.sleep(0.2)
            tg.start_soon(worker, "b")
            await anyio.sleep(0.18)  # just after a's first heartbeat (at a third of 1 s)
            await _step_back(pg_dsn, -20.0)
    assert overlaps == []
    assert started == ["a"]
    assert got == {"a": True, "b": True}


def _work_of(
    working: set[str], overlaps: list[set[str]], started: list[str]
) -> Callable[[str], LeasedWork]:
    """Work of 2 s (six heartbeats of a 1 s lease) that notes who worked at once."""

    def work_of(name: str) -> LeasedWork:
        async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
            started.append(name)
            working.add(name)
            if len(working) > 1:
                overlaps.append(set(working))
            try:
                await anyio.sleep(2.0)
                return [], True
            finally:
                working.discard(name)

        return work

    return work_of
