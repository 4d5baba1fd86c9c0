"""A backward wall-clock step never delays the take-over of a dead worker's chunk by the
step: a lease expiry further ahead than ``lease_ttl`` is never trusted (issue 19, point 5).
A forward step never hands a live holder's chunk to another worker, nor cuts off its work.

The memory and SQLite journals run on the wall clock of the processes sharing them; a step
of that clock (NTP, a VM resumed, an operator) moves every lease written before it. These
tests step a fake journal clock; ``tests/scaleout/test_clock_steps_postgres.py`` does the
same to the PostgreSQL journal by moving a lease's expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, MemoryJournal, SqliteJournal
from ica_tapis_async.orchestrator._journal_protocol import ChunkRecord
from ica_tapis_async.orchestrator._lease import Held, LeasedWork, run_leased
from ica_tapis_async.orchestrator._plan import chunk_data_ids, chunk_key
from ica_tapis_async.orchestrator._report import ItemOutcome
from ica_tapis_async.simulator import Simulator

from .helpers import orchestrator


class SteppedClock:
    """The wall clock, moved by ``step`` seconds (negative: back) from the test's command."""

    def __init__(self) -> None:
        self.step = 0.0

    def __call__(self) -> float:
        return time.time() + self.step


def make_journal(backend: str, tmp_path: Path, clock: Callable[[], float]) -> Journal:
    if backend == "sqlite":
        return SqliteJournal(tmp_path / "steps.sqlite", clock=clock)
    return MemoryJournal(clock=clock)


BACKENDS = ["memory", "sqlite"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_lease_from_before_a_backward_step_lasts_at_most_its_ttl(
    backend: str, tmp_path: Path
) -> None:
    """A dead worker's lease written 20 s "in the future" (the clock then stepped back) is
    trusted for at most lease_ttl from the first look, not for the 20 s of the step."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    try:
        await journal.open_run("link", "p", "r", "fp")
        dead = await journal.claim("r", 0, key="k", digest="d", owner="dead", ttl_s=1.0)
        assert dead.lease is not None
        clock.step = -20.0
        first = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)
        assert not first.granted
        assert first.record.owner == "dead"
        assert first.record.lease_expires_at is not None
        assert first.record.lease_expires_at <= clock() + 1.0
        clock.step = -20.0 + 1.01
        taken = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)
        assert taken.lease is not None
        assert taken.lease.token == dead.lease.token + 1
    finally:
        await journal.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_live_holder_keeps_its_lease_across_a_backward_step(
    backend: str, tmp_path: Path
) -> None:
    """The untrusted part of an expiry is cut, not handed over: a holder that heartbeats keeps
    its chunk, and its fenced writes still pass."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    try:
        await journal.open_run("link", "p", "r", "fp")
        held = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=1.0)
        assert held.lease is not None
        clock.step = -20.0
        assert not (await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)).granted
        lease = await journal.renew(held.lease, 1.0)
        assert lease.expires_at <= clock() + 1.0
        clock.step = -20.0 + 0.6
        assert not (await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=1.0)).granted
        await journal.mark_sending(lease)
        # An expiry within lease_ttl is trusted whole, as before.
        within = await journal.get_chunk("r", 0)
        assert within is not None
        assert within.owner == "a"
        assert within.lease_expires_at == lease.expires_at
    finally:
        await journal.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_dead_workers_chunk_is_taken_over_in_lease_ttl_after_a_step(
    backend: str, sim: Simulator, ica: ita.IcaClient, tmp_path: Path
) -> None:
    """The issue's case: a 20 s backward step, lease_ttl=1. The run took 21 s; now ~2 s
    (a lease_ttl watching the lease unrenewed, one after the cut)."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    ids = [f"fil.s{i}" for i in range(6)]
    try:
        orch = orchestrator(ica, journal=journal, run_id="s", batch_size=3, lease_ttl=1.0)
        await journal.open_run("link", orch.project_id, "s", "batch_size=3")
        chunk = await anext(chunk_data_ids(ids, 3))
        await journal.claim(
            "s", 0, key=chunk_key("s", "link", 0, chunk.digest), digest=chunk.digest,
            owner="dead", ttl_s=1.0,
        )  # fmt: skip
        clock.step = -20.0
        began = time.monotonic()
        report = await orch.link(ids)
        elapsed = time.monotonic() - began
        assert report.counts == {"LINKED": 6}
        assert elapsed < 8.0, elapsed
    finally:
        await journal.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_forward_step_never_hands_a_live_holders_chunk_to_another_worker(
    backend: str, tmp_path: Path
) -> None:
    """A forward step lapses every lease at once; a worker heartbeating with the same
    lease_ttl is alive, so no other worker may start on its chunk while it works (two holders
    would both send). The other waits until it has seen the lease unrenewed for lease_ttl."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    working: set[str] = set()
    overlaps: list[set[str]] = []
    started: list[str] = []

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

    async def worker(name: str) -> None:
        await run_leased(
            journal, "r", 0, key="k", digest="d", owner=name, ttl_s=1.0, work=work_of(name),
            wall_clock=clock,
        )  # fmt: skip

    try:
        await journal.open_run("link", "p", "r", "fp")
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "a")
            await anyio.sleep(0.1)
            tg.start_soon(worker, "b")
            await anyio.sleep(0.4)
            clock.step = 20.0
        assert overlaps == []
        assert "b" not in started, started
    finally:
        await journal.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_forward_step_does_not_cut_off_a_lone_holders_work(
    backend: str, tmp_path: Path
) -> None:
    """The holder's own lease lapses at a forward step though nobody took it: its heartbeat
    still renews it (only a claim ends a lease) instead of cancelling the work, which may be a
    create on the wire (cut off, its fate unknown, and sent again)."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    runs: list[str] = []

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        runs.append("started")
        await anyio.sleep(1.5)  # a create on the wire
        await journal.mark_sending(held.lease)  # fenced: the lease is current again
        runs.append("finished")
        return [], True

    try:
        await journal.open_run("link", "p", "r", "fp")
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: run_leased(
                    journal, "r", 0, key="k", digest="d", owner="a", ttl_s=1.0, work=work,
                    wall_clock=clock,
                )
            )  # fmt: skip
            await anyio.sleep(0.4)
            clock.step = 20.0
        assert runs == ["started", "finished"]
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert record.final
    finally:
        await journal.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_forward_step_does_not_fail_a_holders_fenced_write(
    backend: str, tmp_path: Path
) -> None:
    """A fenced write that meets the lapse before the heartbeat does (recording the batch a
    create just made) still passes: nobody took the chunk (its token is unchanged), so the
    holder's work is not lost and the create not sent again."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    runs: list[str] = []

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        runs.append("started")
        await journal.mark_sending(held.lease)
        await anyio.sleep(0.5)  # the create; the step comes before its answer
        await journal.mark_submitted(held.lease, "batch-1")  # before the next heartbeat
        runs.append("finished")
        return [], True

    try:
        await journal.open_run("link", "p", "r", "fp")
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: run_leased(
                    journal, "r", 0, key="k", digest="d", owner="a", ttl_s=1.0, work=work,
                    wall_clock=clock,
                )
            )  # fmt: skip
            await anyio.sleep(0.4)  # after the first heartbeat (a third of a second)
            clock.step = 20.0
        assert runs == ["started", "finished"]
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert (record.final, record.batch_id, record.attempts) == (True, "batch-1", 1)
    finally:
        await journal.aclose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_two_workers_through_forward_steps_send_each_chunk_once(
    backend: str, tmp_path: Path
) -> None:
    """Two workers share a run while the journal's clock jumps 20 s ahead again and again,
    with creates slow enough to be on the wire at a step: every chunk is sent once."""
    clock = SteppedClock()
    journal = make_journal(backend, tmp_path, clock)
    ids = [f"fil.f{i:03d}" for i in range(60)]
    reports: list[ita.BatchReport] = []
    try:
        async with (
            Simulator(seed=9, step_s=0.3, latency_s=0.25) as sim,
            ita.IcaClient(sim.ica_url, api_key="k") as ica,
        ):

            async def worker() -> None:
                orch = orchestrator(
                    ica, journal=journal, run_id="f", batch_size=5, lease_ttl=1.0,
                    max_inflight_batches=4,
                )  # fmt: skip
                reports.append(await orch.link(ids))

            async with anyio.create_task_group() as tg:
                tg.start_soon(worker)
                tg.start_soon(worker)
                for _ in range(8):
                    await anyio.sleep(0.45)
                    clock.step += 20.0
            submissions = dict(sim.stats.link_submissions)
            batches = sim.stats.batches.get("linking", 0)
    finally:
        await journal.aclose()
    assert [r.counts for r in reports] == [{"LINKED": 60}] * 2
    assert set(submissions.values()) == {1}, submissions
    assert batches == 12
