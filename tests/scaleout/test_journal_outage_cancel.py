"""A worker stopped (Ctrl-C, a cancelled task) while its journal is away: it stops within a few
seconds and as a cancellation, not after every retry of a best-effort release, and not as a
``JournalUnavailableError`` that replaces the cancellation."""

from __future__ import annotations

import time

import anyio
import anyio.to_thread

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator
from tests.scaleout._worker import PROJECT, RETRY, items
from tests.servers import PostgresServer


async def test_a_worker_cancelled_during_a_journal_outage_stops_promptly(
    postgres_server: PostgresServer,
) -> None:
    import psycopg

    server = PostgresServer()  # its own: this test stops it
    await anyio.to_thread.run_sync(server.start)
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE outage")
        journal = ita.PostgresJournal(server.dsn("outage"), connect_timeout=2, retries=3)
        async with (
            Simulator(seed=31, latency_s=0.3) as sim,
            ita.IcaClient(sim.ica_url, api_key="k", retry=RETRY) as ica,
        ):
            orchestrator = ita.BatchOrchestrator(
                ica, PROJECT, journal=journal, run_id="outage", lease_ttl=6, batch_size=2
            )
            stopped_at = 0.0
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:

                    async def stop_the_journal_then_the_worker() -> None:
                        nonlocal stopped_at
                        await anyio.sleep(1.5)  # chunks claimed, heartbeats running
                        await anyio.to_thread.run_sync(lambda: server.stop(keep=True))
                        await anyio.sleep(0.5)
                        stopped_at = time.monotonic()
                        scope.cancel()

                    tg.start_soon(stop_the_journal_then_the_worker)
                    await orchestrator.link(items("link", 40))
            took = time.monotonic() - stopped_at
            await orchestrator.aclose()
        await journal.aclose()
    finally:
        server.stop()
    assert scope.cancelled_caught  # a cancellation, not an error in its place
    assert took < 4.0, took
