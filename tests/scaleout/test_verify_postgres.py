"""``verify_run`` reads a PostgreSQL journal through the journal protocol, paced by a shared
Redis limiter, against a simulator served by another process."""

from __future__ import annotations

import psycopg

import ica_tapis_async as ita
from tests.cli.served import served_simulator
from tests.servers import RedisServer

PROJECT = "5a1e0000-0000-4000-8000-00000000c1e0"


async def test_postgres_journal_run_verified_then_tampered(
    pg_dsn: str, redis_server: RedisServer, limit_name: str
) -> None:
    ids = [f"fil.{i:032x}" for i in range(1, 13)]
    with served_simulator() as served:
        limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=50.0)
        async with ita.IcaClient(served.ica_url, api_key="k", limiter=limiter) as ica:
            orchestrator = ita.BatchOrchestrator(
                ica, PROJECT, batch_size=5, journal=pg_dsn, run_id="pg-run"
            )
            try:
                report = await orchestrator.link(ids)
            finally:
                await orchestrator.aclose()
            assert report.ok
            before = served.operations()
            verified = await ita.verify_run(pg_dsn, "pg-run", ica=ica)
            assert verified.ok, verified.discrepancies
            assert verified.server_counts == {"LINKED": 12}
            assert verified.batches_read == 3
            reads = {
                op: n - before.get(op, 0)
                for op, n in served.operations().items()
                if n != before.get(op, 0)
            }
            assert reads == {"getProjectDataLinkingBatchItems": 3}
            async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
                await conn.execute(
                    "UPDATE ita_outcomes SET status = 'FAILED', ok = false "
                    "WHERE run_id = 'pg-run' AND key = %s",
                    (ids[7],),
                )
                await conn.commit()
            tampered = await ita.verify_run(pg_dsn, "pg-run", ica=ica)
        await limiter.aclose()
    assert [(d.problem, d.key, d.chunk, d.journal, d.server) for d in tampered.discrepancies] == [
        ("status", ids[7], 1, "FAILED", "LINKED")
    ]
    assert tampered.to_dict()["problems"] == {"status": 1}
