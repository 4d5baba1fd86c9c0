"""The fleet under attack: what the fleet's own tests left out."""

from __future__ import annotations

import time
from typing import Any

import anyio
import psycopg
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator._fleet import Fleet
from ica_tapis_async.orchestrator._input_end import chunks_of
from ica_tapis_async.orchestrator._journal_protocol import Claim
from ica_tapis_async.orchestrator._plan import chunk_key
from ica_tapis_async.simulator import Simulator
from tests.orchestrator.helpers import PROJECT, orchestrator
from tests.scaleout._worker import items


async def test_a_worker_whose_last_heartbeat_was_slow_claims_again_once_it_holds_nothing(
    pg_dsn: str,
) -> None:
    """A heartbeat was slow (or failed) and meanwhile the worker's chunks finished: with no
    lease left there is no heartbeat to say the journal is quick again, so the worker must
    not stay paused for ever (the run never finished)."""
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=1.5)).lease
        assert lease is not None
        fleet = Fleet(journal, "r", "a", 1.5)
        claims: list[int] = []

        async def claim() -> Claim:
            claims.append(1)
            return await journal.claim("r", 1, key="k1", digest="d", owner="a", ttl_s=1.5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.run)
            with fleet.holding(0, lambda: lease, lambda _: None, lambda: None):
                async with await psycopg.AsyncConnection.connect(pg_dsn) as blocker:
                    await blocker.execute("SELECT 1 FROM ita_chunks WHERE idx = 0 FOR UPDATE")
                    with anyio.fail_after(5):
                        while fleet.healthy:  # noqa: ASYNC110 - set by the heartbeat task
                            await anyio.sleep(0.02)
                    # The chunk settled while its heartbeat was stuck; the lock goes, the slow
                    # heartbeat returns: the worker holds nothing now.
                    await blocker.rollback()
            got: list[object] = []

            async def claiming() -> None:
                got.append(await fleet.claim(1, "d", claim))

            tg.start_soon(claiming)
            with anyio.fail_after(4 * 1.5):
                while not got:  # noqa: ASYNC110 - the claim comes from another task
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
        assert claims == [1]


async def test_an_update_waiting_for_a_chunk_another_worker_gave_back_is_not_deadlocked(
    pg_dsn: str,
) -> None:
    """Two chunks update one data id, so the second waits for the first. The first is held by
    another worker (ours waits for it without its in-flight slot, and the second chunk takes
    the slot), which then gives it back unfinished (stopped): ours must work on it. Taking an
    in-flight slot again before that deadlocked, the slot being held by the chunk that waits
    for this one."""
    tags = ita.TagUpdate(add_tags=["t"])
    data_id = "fil." + "a" * 30
    groups = [ita.DataUpdateGroup([data_id], user_tags=tags) for _ in range(2)]
    run_id = "upd-deadlock"
    first, _ = [c async for c in chunks_of("update")(groups, 10)]
    async with ita.PostgresJournal(pg_dsn) as journal, Simulator(seed=5) as sim:
        await journal.open_run("update", PROJECT, run_id, "batch_size=10")
        key = chunk_key(run_id, "update", 0, first.digest)
        held = await journal.claim(run_id, 0, key=key, digest=first.digest, owner="x", ttl_s=60)
        assert held.lease is not None
        async with (
            ita.IcaClient(sim.ica_url, api_key="k") as ica,
            orchestrator(
                ica, journal=pg_dsn, run_id=run_id, batch_size=10, max_inflight_batches=1,
                lease_ttl=1.5,
            ) as orch,
        ):  # fmt: skip
            reports: list[ita.BatchReport] = []

            async def run() -> None:
                reports.append(await orch.update(groups))

            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await anyio.sleep(1.0)  # ours waits for chunk 0; chunk 1 waits for chunk 0
                await journal.release(held.lease)  # the other worker stopped
                with anyio.fail_after(10):
                    while not reports:  # noqa: ASYNC110 - the report comes from another task
                        await anyio.sleep(0.05)
    assert reports[0].counts == {"UPDATED": 2}


async def test_a_transfer_worker_with_a_fast_clock_does_not_poll_the_journal_faster(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transfers waiting for tasks another worker holds look again when the lease would lapse:
    on this machine's clock, an hour ahead of the journal's, every lease looked lapsed and
    each waiting task claimed again every 50 ms instead of every second at most."""
    from ica_tapis_async.orchestrator import _lease

    real = time.time
    defaults = _lease.run_leased.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "wall_clock", lambda: real() + 3600)
    requests = items("transfers", 3)
    async with (
        Simulator(seed=7, tapis_step_s=5.0) as sim,
        ita.TapisClient(sim.tapis_url, token="t") as tapis,
    ):
        first = ita.TransferOrchestrator(
            tapis, journal=pg_dsn, run_id="tr-clock", lease_ttl=4.0, poll_initial=0.2
        )
        journal = ita.PostgresJournal(pg_dsn)
        claims: list[float] = []
        claim = journal.claim

        async def counted(*args: Any, **kwargs: Any) -> Any:
            claims.append(time.monotonic())
            return await claim(*args, **kwargs)

        monkeypatch.setattr(journal, "claim", counted)
        second = ita.TransferOrchestrator(
            tapis, journal=journal, run_id="tr-clock", lease_ttl=4.0, poll_initial=0.2
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run, requests)
            await anyio.sleep(1.5)  # the first worker holds every task
            tg.start_soon(second.run, requests)
            await anyio.sleep(2.5)
            tg.cancel_scope.cancel()
        await first.aclose()
        await journal.aclose()
    assert len(claims) >= 3  # the second worker found every task held
    waited = [t for t in claims if t > claims[0] + 0.5]
    # Three tasks held by the first worker, looked at again at most once a second each.
    assert len(waited) <= 3 * 3, len(waited)


async def test_a_waiter_cancelled_while_a_survey_runs_does_not_break_the_fleet(
    pg_dsn: str,
) -> None:
    """A chunk task stops waiting (cancelled: another chunk failed, the run is stopping)
    while the survey that asked about its chunk is in the journal: the survey's answer about
    it is dropped, not a ``KeyError`` that ends the worker's fleet (and its run)."""
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        for index in (0, 1):
            await journal.claim("r", index, key=f"k{index}", digest="d", owner="x", ttl_s=60)
        surveying = anyio.Event()
        answer = anyio.Event()
        survey = journal.survey

        async def slow_survey(run_id: str, indices: Any) -> Any:
            result = await survey(run_id, indices)
            if indices:
                surveying.set()
                await answer.wait()
            return result

        journal.survey = slow_survey  # type: ignore[method-assign]
        fleet = Fleet(journal, "r", "a", 1.5, batch=2)

        async def never() -> Claim:
            raise AssertionError("chunks held by x are not claimed")

        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.run)
            with anyio.CancelScope() as waiting:
                async with anyio.create_task_group() as chunks:
                    fleet.seen(1, missed=True)  # the run is known to reach chunk 1
                    chunks.start_soon(fleet.claim, 0, "d", never)
                    chunks.start_soon(fleet.claim, 1, "d", never)
                    with anyio.fail_after(5):
                        await surveying.wait()
                    waiting.cancel()  # both chunk tasks stop waiting
            answer.set()
            await anyio.sleep(0.2)  # the survey's answer is handled: the fleet goes on
            tg.cancel_scope.cancel()


async def test_a_late_worker_with_a_shorter_input_never_makes_the_correct_worker_fail(
    pg_dsn: str,
) -> None:
    """The correct worker sends one chunk at a time; a late worker joins with one id less
    (the same number of chunks, so its end of input agrees), races ahead, and sends its own
    version of the last chunk: the correct worker is then refused at that chunk. The late
    worker is the one with other input: it must be the one refused."""
    ids = [f"fil.{i:030x}" for i in range(50)]
    async with Simulator(seed=9, step_s=0.3) as sim:
        reports: dict[str, object] = {}

        async def work(name: str, data: list[str], inflight: int) -> None:
            async with (
                ita.IcaClient(sim.ica_url, api_key="k") as ica,
                orchestrator(
                    ica, journal=pg_dsn, run_id="short", batch_size=10, lease_ttl=1.5,
                    max_inflight_batches=inflight,
                ) as orch,
            ):  # fmt: skip
                try:
                    reports[name] = await orch.link(data)
                except ita.JournalMismatchError as exc:
                    reports[name] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(work, "correct", ids, 1)
            await anyio.sleep(0.5)  # the correct worker holds chunk 0
            tg.start_soon(work, "late", ids[:-1], 8)
    assert isinstance(reports["late"], ita.JournalMismatchError)
    assert isinstance(reports["correct"], ita.BatchReport)
