"""Cooperative runs: worker processes share one PostgreSQL journal (and one Redis budget).

Each worker is its own Python process (``tests/scaleout/_worker.py``) with its own client,
calling the same method with the same run id and input against the simulator served by this
test's event loop. Faults are real: SIGKILL, SIGSTOP past the lease, a Redis restart, every
PostgreSQL connection terminated.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from anyio.abc import Process

import ica_tapis_async as ita
from ica_tapis_async.orchestrator._journal_protocol import END_DIGEST
from ica_tapis_async.simulator import Simulator
from tests.scaleout._worker import PROJECT, items
from tests.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
# Lease time of the workers. Long enough that a busy machine's heartbeats keep up; the
# take-over tests use SHORT, so that a dead worker's chunks are free soon.
TTL = 5.0
SHORT = 1.0


async def _start(cfg: dict[str, Any]) -> Process:
    return await anyio.open_process(
        [sys.executable, "-m", "tests.scaleout._worker", json.dumps(cfg)], cwd=ROOT, stderr=None
    )


async def _report(process: Process, *, whole: bool = False) -> dict[str, Any]:
    """The worker's report (its last line of output, or ``whole`` of it), once it exits
    successfully."""
    assert process.stdout is not None
    out = b""
    with anyio.fail_after(60):
        async for chunk in process.stdout:
            out += chunk
        code = await process.wait()
    assert code == 0, out.decode(errors="replace")[-2000:]
    text = out.decode().strip()
    report: dict[str, Any] = json.loads(text if whole else text.splitlines()[-1])
    return report


async def _until(predicate: Callable[[], Awaitable[Any]], limit_s: float = 30.0) -> Any:
    with anyio.fail_after(limit_s):
        # The state lives in another process's journal writes: nothing to wait on but time.
        while not (value := await predicate()):  # noqa: ASYNC110
            await anyio.sleep(0.02)
    return value


def _config(sim: Simulator, dsn: str, op: str, count: int, **extra: Any) -> dict[str, Any]:
    return {
        "op": op, "count": count, "ica_url": sim.ica_url, "tapis_url": sim.tapis_url,
        "journal": dsn, "run_id": f"coop-{uuid.uuid4().hex[:8]}", "ttl": TTL, "batch_size": 20,
        **extra,
    }  # fmt: skip


async def _held_by_anyone(dsn: str, run_id: str) -> dict[int, int]:
    async with ita.PostgresJournal(dsn) as journal:
        if await journal.get_run(run_id) is None:
            return {}
        chunks = await journal.chunks(run_id)
    return {c.index: c.lease_token for c in chunks if c.owner is not None and not c.final}


@pytest.mark.parametrize(
    ("op", "count", "workers"), [("link", 200, 3), ("update", 100, 2), ("analyses", 60, 2)]
)
async def test_workers_share_the_chunks_and_all_report_the_whole_run(
    pg_dsn: str, op: str, count: int, workers: int
) -> None:
    async with Simulator(seed=11, step_s=0.05) as sim:
        cfg = _config(sim, pg_dsn, op, count)
        processes = [await _start(cfg) for _ in range(workers)]
        reports = [await _report(p) for p in processes]
        stats = sim.stats
    expected = "LINKED" if op == "link" else "UPDATED" if op == "update" else None
    for report in reports:
        assert report["total"] == count
        assert not report["failures"]
        if expected:
            assert report["counts"] == {expected: count}
    kind = {"link": "linking", "update": "update", "analyses": "analysis"}[op]
    chunks = -(-count // 20)
    assert stats.batches[kind] == chunks  # each chunk was sent by one worker, once
    if op == "link":
        assert set(stats.link_submissions.values()) == {1}
    if op == "analyses":
        assert set(stats.analyses_by_user_reference.values()) == {1}
        assert len(stats.analyses_by_user_reference) == count
    async with ita.PostgresJournal(pg_dsn) as journal:
        records = await journal.chunks(cfg["run_id"])
        run = await journal.get_run(cfg["run_id"])
    assert len(records) == chunks
    assert all(r.final and r.attempts == 1 for r in records)
    assert run is not None
    assert run.finished_at is not None


async def test_two_workers_each_send_a_fair_share(pg_dsn: str) -> None:
    """Chunks the other worker holds are waited for without an in-flight slot: each worker
    finishes at least a quarter of them (before, a second worker finished none)."""
    async with Simulator(seed=16, step_s=0.1, item_rate=40) as sim:
        cfg = _config(sim, pg_dsn, "link", 600, batch_size=10)
        workers = [await _start(cfg) for _ in range(2)]
        reports = [await _report(w) for w in workers]
        batches = sim.stats.batches["linking"]
    assert all(r["counts"] == {"LINKED": 600} for r in reports)
    assert batches == 60
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        cursor = await conn.execute(
            "SELECT done_by, count(*) FROM ita_chunks WHERE run_id = %s AND digest <> %s "
            "GROUP BY done_by",
            (cfg["run_id"], END_DIGEST),
        )
        done_by: dict[str, int] = dict(await cursor.fetchall())
    assert len(done_by) == 2, done_by
    assert min(done_by.values()) >= 15, done_by


async def test_a_run_is_finished_without_cancelling_the_journal(
    pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's finish is written before the outcomes end: no cancelled query, and a later
    call without run_id (another batch size) is refused as another batch size of a *finished*
    run, not as an "unfinished" one."""
    caplog.set_level(logging.WARNING)
    async with (
        Simulator(seed=2, step_s=0.02) as sim,
        ita.IcaClient(sim.ica_url, api_key="k") as ica,
    ):
        async with ita.BatchOrchestrator(
            ica, PROJECT, journal=pg_dsn, batch_size=20, poll_initial=0.02
        ) as orchestrator:
            report = await orchestrator.link(items("link", 40))
        async with ita.PostgresJournal(pg_dsn) as journal:
            run = await journal.get_run(report.run_id)
        assert run is not None
        assert run.finished_at is not None
        async with ita.BatchOrchestrator(
            ica, PROJECT, journal=pg_dsn, batch_size=10, poll_initial=0.02
        ) as orchestrator:
            with pytest.raises(ita.orchestrator.JournalMismatchError, match="holds finished"):
                await orchestrator.link(items("link", 40))
    assert not [r for r in caplog.records if "cancel" in r.getMessage()], caplog.text


async def test_cooperative_tapis_transfers(pg_dsn: str) -> None:
    async with Simulator(seed=11, tapis_step_s=0.05) as sim:
        cfg = _config(sim, pg_dsn, "transfers", 12)
        reports = [await _report(w) for w in [await _start(cfg) for _ in range(2)]]
        created = sim.stats.tapis_tasks
    assert all(r["total"] == 12 and r["counts"] == {"COMPLETED": 12} for r in reports)
    assert created == 12  # each task created once, by one of the two workers


async def test_a_killed_workers_chunks_are_taken_over_with_the_same_keys(pg_dsn: str) -> None:
    # Slow batches, so the victim is killed while it holds chunks it has sent.
    async with Simulator(seed=12, step_s=0.3, item_rate=40) as sim:
        cfg = _config(sim, pg_dsn, "analyses", 60, ttl=SHORT)
        victim = await _start(cfg)
        held = await _until(lambda: _held_by_anyone(pg_dsn, cfg["run_id"]))
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        survivor = await _start(cfg)
        report = await _report(survivor)
        stats = sim.stats
    assert report["total"] == 60
    assert not report["failures"]
    # Nothing twice: every analysis exists once, whoever sent its batch (same keys on re-send).
    assert sorted(stats.analyses_by_user_reference) == sorted(
        r.user_reference for r in items("analyses", 60)
    )
    assert set(stats.analyses_by_user_reference.values()) == {1}
    async with ita.PostgresJournal(pg_dsn) as journal:
        records = {r.index: r for r in await journal.chunks(cfg["run_id"])}
    assert all(records[i].lease_token > token for i, token in held.items())  # taken over


async def test_a_stalled_worker_loses_its_lease_and_its_late_writes(pg_dsn: str) -> None:
    async with Simulator(seed=13, step_s=0.2, item_rate=50) as sim:
        cfg = _config(sim, pg_dsn, "analyses", 40, ttl=SHORT)
        slow = await _start(cfg)
        held = await _until(lambda: _held_by_anyone(pg_dsn, cfg["run_id"]))
        slow.send_signal(signal.SIGSTOP)  # a GC pause, a frozen VM: the heartbeat stops
        try:
            fast = await _start(cfg)
            fast_report = await _report(fast)
        finally:
            slow.send_signal(signal.SIGCONT)
        slow_report = await _report(slow)  # woken up: its fenced writes are refused
        stats = sim.stats
    for report in (fast_report, slow_report):
        assert report["total"] == 40
        assert not report["failures"]
    assert set(stats.analyses_by_user_reference.values()) == {1}
    async with ita.PostgresJournal(pg_dsn) as journal:
        records = {r.index: r for r in await journal.chunks(cfg["run_id"])}
    assert all(records[i].lease_token > token for i, token in held.items())


async def test_postgres_connections_dropped_mid_run(pg_dsn: str) -> None:
    async with Simulator(seed=14, step_s=0.1) as sim:
        cfg = _config(sim, pg_dsn, "link", 300)
        workers = [await _start(cfg) for _ in range(2)]
        await _until(lambda: _held_by_anyone(pg_dsn, cfg["run_id"]))
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as admin:
            for _ in range(3):  # a failover, an idle-connection reaper, a restarted pooler
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                await anyio.sleep(0.3)
        reports = [await _report(w) for w in workers]
        stats = sim.stats
    assert all(r["total"] == 300 and r["counts"] == {"LINKED": 300} for r in reports)
    assert stats.batches["linking"] == 15


async def test_redis_restarted_mid_run_with_a_shared_limit(
    pg_dsn: str, redis_server: RedisServer, limit_name: str
) -> None:
    async with Simulator(seed=15, step_s=0.05, rate_limit=60, retry_after="auto") as sim:
        cfg = _config(sim, pg_dsn, "link", 300, redis=redis_server.url, limit_name=limit_name)
        cfg["rate"] = 60
        workers = [await _start(cfg) for _ in range(2)]
        await _until(lambda: _held_by_anyone(pg_dsn, cfg["run_id"]))
        redis_server.stop(keep=True)
        await anyio.sleep(0.5)  # the workers carry on with their local share
        redis_server.start()
        reports = [await _report(w) for w in workers]
        stats = sim.stats
    assert all(r["total"] == 300 and r["counts"] == {"LINKED": 300} for r in reports)
    assert stats.batches["linking"] == 15
    assert stats.throttled <= 0.05 * stats.requests


async def test_other_input_under_the_same_run_id_is_refused(pg_dsn: str) -> None:
    async with Simulator(seed=16) as sim:
        cfg = _config(sim, pg_dsn, "link", 40)
        assert (await _report(await _start(cfg)))["total"] == 40
        async with (
            ita.IcaClient(sim.ica_url, api_key="k") as ica,
            ita.BatchOrchestrator(ica, PROJECT, journal=pg_dsn, run_id=cfg["run_id"],
                                  batch_size=20) as orchestrator,
        ):  # fmt: skip
            with pytest.raises(Exception) as caught:  # the leaf is checked below
                await orchestrator.link(items("link", 40, variant="x"))
    leaf: BaseException = caught.value
    while isinstance(leaf, BaseExceptionGroup):  # one refusal per chunk may come grouped
        leaf = leaf.exceptions[0]
    assert isinstance(leaf, ita.orchestrator.JournalMismatchError)
    assert "other input" in str(leaf)


async def test_longer_or_shorter_input_under_the_same_run_id_is_refused(pg_dsn: str) -> None:
    """Input that differs by whole chunks (batches of 20: 40 ids, then 60, 200 or 20) or by
    whole transfer requests is refused, and nothing of it is sent."""
    mismatch = ita.orchestrator.JournalMismatchError
    async with Simulator(seed=16, tapis_step_s=0.02) as sim:
        cfg = _config(sim, pg_dsn, "link", 40)
        assert (await _report(await _start(cfg)))["total"] == 40
        async with (
            ita.IcaClient(sim.ica_url, api_key="k") as ica,
            ita.BatchOrchestrator(ica, PROJECT, journal=pg_dsn, run_id=cfg["run_id"],
                                  batch_size=20) as orchestrator,
        ):  # fmt: skip
            for count in (60, 200):
                with pytest.raises(mismatch, match="ended after 2 chunks; this input has more"):
                    await orchestrator.link(items("link", count))
            with pytest.raises(mismatch, match="has more than 1 chunk; this input ends after 1"):
                await orchestrator.link(items("link", 20))
        batches = sim.stats.batches["linking"]
        requests = items("transfers", 3)

        async def transfer(given: list[Any]) -> ita.TransferReport:
            async with ita.TapisClient(sim.tapis_url, token="t") as tapis:
                transfers = ita.TransferOrchestrator(
                    tapis, journal=pg_dsn, run_id="transfers", poll_initial=0.02
                )
                try:
                    return await transfers.run(given)
                finally:
                    await transfers.aclose()

        assert (await transfer(requests[:2])).counts == {"COMPLETED": 2}
        with pytest.raises(mismatch, match="ended after 2 transfer requests; this input has"):
            await transfer(requests)
        with pytest.raises(mismatch, match="has more than 1 transfer request; this input ends"):
            await transfer(requests[:1])
        tasks = sim.stats.tapis_tasks
    assert batches == 2
    assert tasks == 2


async def test_command_line_workers_share_a_run_and_exit(
    pg_dsn: str, redis_server: RedisServer, limit_name: str, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in items("link", 120)), encoding="utf-8")
    async with Simulator(seed=17, step_s=0.05) as sim:
        command = [
            sys.executable, "-m", "ica_tapis_async", "link", str(ids), "--json", "-q",
            "--journal", pg_dsn, "--run-id", "cli-run", "--batch-size", "30",
            "--shared-limit", redis_server.url, "--limit-name", limit_name,
            "--base-url", sim.ica_url, "--api-key", "k", "--project", PROJECT,
        ]  # fmt: skip
        workers = [await anyio.open_process(command, cwd=ROOT, stderr=None) for _ in range(2)]
        # Each one exits: its journal's connections are closed on the event loop.
        reports = [await _report(w, whole=True) for w in workers]
        stats = sim.stats
    assert all(r["total"] == 120 and r["counts"] == {"LINKED": 120} for r in reports)
    assert stats.batches["linking"] == 4
