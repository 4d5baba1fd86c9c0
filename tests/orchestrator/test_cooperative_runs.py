"""Cooperative runs on one journal: the work is shared, the run is finished, the input is its.

Workers here are orchestrators of one process with their own handles on one SQLite file (as
processes on one machine would have); tests/scaleout repeats the points with processes on
PostgreSQL.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import JournalMismatchError, Lease, SqliteJournal
from ica_tapis_async.simulator import Simulator

from .helpers import orchestrator

IDS = [f"fil.{i:030x}" for i in range(600)]


class CountingJournal(SqliteJournal):
    """A SQLite handle that counts the chunks each owner finished (shared ``done_by``)."""

    def __init__(self, path: Path, done_by: Counter[str]) -> None:
        super().__init__(path)
        self.done_by = done_by

    async def mark_done(self, lease: Lease, outcomes: Sequence[ita.ItemOutcome]) -> None:
        await super().mark_done(lease, outcomes)
        if outcomes:  # not the end-of-input entry
            self.done_by[lease.owner] += 1


async def test_two_workers_each_send_a_fair_share(tmp_path: Path) -> None:
    """Two workers on one run: a chunk the other holds is waited for without a slot, so both
    send chunks (before, the second one's window filled with the first one's chunks)."""
    done_by: Counter[str] = Counter()
    reports: list[ita.BatchReport] = []
    # Batches take a while, so each worker holds its window of chunks for some time.
    async with Simulator(seed=3, step_s=0.05, item_rate=100) as sim:

        async def worker() -> None:
            journal = CountingJournal(tmp_path / "j.sqlite", done_by)
            async with (
                ita.IcaClient(sim.ica_url, api_key="k") as ica,
                orchestrator(ica, journal=journal, run_id="shared", batch_size=10,
                             max_inflight_batches=4, lease_ttl=5.0) as orch,
            ):  # fmt: skip
                reports.append(await orch.link(IDS))
            await journal.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            tg.start_soon(worker)
        batches = sim.stats.batches["linking"]
    assert [r.counts for r in reports] == [{"LINKED": 600}] * 2
    assert batches == 60  # every chunk sent once
    assert sum(done_by.values()) == 60
    assert len(done_by) == 2
    assert min(done_by.values()) >= 15, done_by  # each >= 25% of the chunks


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_run_whose_chunks_are_all_done_is_finished(
    tmp_path: Path, sim: Simulator, ica: ita.IcaClient, streamed: bool
) -> None:
    """The run's finish is recorded before the outcomes end (it was cancelled midway)."""
    path = tmp_path / "j.sqlite"
    async with orchestrator(ica, journal=path, run_id="r", batch_size=20) as orch:
        if streamed:
            async with orch.stream_link(IDS[:40]) as outcomes:
                assert len([o async for o in outcomes]) == 40
        else:
            assert (await orch.link(IDS[:40])).counts == {"LINKED": 40}
    journal = SqliteJournal(path)
    run = await journal.get_run("r")
    assert [c.index for c in await journal.chunks("r")] == [0, 1]  # not the end entry
    await journal.aclose()
    assert run is not None
    assert run.finished_at is not None


async def test_transfers_are_finished_and_refuse_longer_or_shorter_input(
    tmp_path: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A transfer run is recorded finished; 3 or 1 requests under a run of 2 are refused
    before any task is created."""
    requests = [
        ita.TransferRequest(
            [ita.ReqTransferElement(f"tapis://src/r{i}/?files=1", f"tapis://d/{i}/")]
        )
        for i in range(3)
    ]
    path = tmp_path / "t.sqlite"

    async def run(given: list[ita.TransferRequest]) -> ita.TransferReport:
        async with ita.TapisClient(sim.tapis_url, token="t") as tapis:
            orch = ita.TransferOrchestrator(
                tapis, journal=path, run_id="t", poll_initial=0.02, poll_max=0.1
            )
            try:
                return await orch.run(given)
            finally:
                await orch.aclose()

    caplog.set_level(logging.WARNING)
    assert (await run(requests[:2])).counts == {"COMPLETED": 2}
    with pytest.raises(JournalMismatchError, match="ended after 2 transfer requests"):
        await run(requests)
    with pytest.raises(JournalMismatchError, match="has more than 1 transfer request"):
        await run(requests[:1])
    assert sim.stats.tapis_tasks == 2
    journal = SqliteJournal(path)
    run_record = await journal.get_run("t")
    await journal.aclose()
    assert run_record is not None
    assert run_record.finished_at is not None


async def test_input_longer_or_shorter_by_whole_chunks_is_refused(
    tmp_path: Path, sim: Simulator, ica: ita.IcaClient
) -> None:
    """40 ids, then 60, then 20 under one run id (20 a batch): the second and third are
    refused, and nothing of the longer input is sent."""
    path = tmp_path / "j.sqlite"

    async def link(ids: list[str]) -> ita.BatchReport:
        async with orchestrator(ica, journal=path, run_id="same", batch_size=20) as orch:
            return await orch.link(ids)

    assert (await link(IDS[:40])).total == 40
    with pytest.raises(JournalMismatchError, match="'same' ended after 2 chunks; this input has"):
        await link(IDS[:60])
    with pytest.raises(JournalMismatchError, match="has more than 1 chunk; this input ends"):
        await link(IDS[:20])
    # Longer still: every chunk past the end is refused alike, none is sent.
    with pytest.raises(JournalMismatchError, match="ended after 2 chunks"):
        await link(IDS[:200])
    assert sim.stats.batches["linking"] == 2
    assert (await link(IDS[:40])).counts == {"LINKED": 40}  # the same input still resumes
    assert sim.stats.batches["linking"] == 2
