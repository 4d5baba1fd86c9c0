"""``--dry-run`` with a PostgreSQL journal and ``--run-id``: the run is read (not written) and
input or options that differ from the run's are refused, as the run would refuse them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import psycopg

import ica_tapis_async as ita
from tests.cli.served import Served, served_simulator

PROJECT = "5a1e0000-0000-4000-8000-00000000c1e0"


async def _cli(*argv: str) -> tuple[int, str, str]:
    """The command line in its own process (it runs its own event loop)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ica_tapis_async", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _rows(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM ita_runs) + (SELECT count(*) FROM ita_chunks)"
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _link(served: Served, dsn: str, ids: list[str]) -> None:
    async with ita.IcaClient(served.ica_url, api_key="k") as ica:
        orchestrator = ita.BatchOrchestrator(
            ica, PROJECT, batch_size=5, journal=dsn, run_id="pg-nightly"
        )
        try:
            assert (await orchestrator.link(ids)).ok
        finally:
            await orchestrator.aclose()


async def test_postgres_journal_run_checked_read_only(pg_dsn: str, tmp_path: Path) -> None:
    ids = [f"fil.{i:032x}" for i in range(1, 13)]
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n", encoding="utf-8")
    with served_simulator() as served:
        await _link(served, pg_dsn, ids)
        rows = await _rows(pg_dsn)
        flags = ["--base-url", served.ica_url, "--api-key", "k", "--project", PROJECT]
        run = ["--journal", pg_dsn, "--run-id", "pg-nightly", *flags]
        code, out, err = await _cli("link", str(source), "--dry-run", "--json", "--batch-size",
                                    "5", *run)  # fmt: skip
        assert code == 0, err
        plan = json.loads(out)
        assert (plan["journal"]["resumes"], plan["journal"]["done"]) == (True, 3)
        assert plan["batches_to_send"] == 0
        code, _, err = await _cli("link", str(source), "--dry-run", "--batch-size", "7", *run)
        assert code == 2
        assert "recorded with batch_size=5; this call has batch_size=7" in err
        source.write_text("\n".join(ids[:-1]) + "\n", encoding="utf-8")  # one id fewer
        code, _, err = await _cli("link", str(source), "--dry-run", "--batch-size", "5", *run)
        assert code == 2
        assert "entry 2 of run pg-nightly was recorded with other input" in err
        assert await _rows(pg_dsn) == rows  # nothing written
        gone = "postgresql://ita:s3cret-pw@127.0.0.1:1/none"
        code, out, err = await _cli("link", str(source), "--dry-run", "--journal", gone,
                                    "--run-id", "x", *flags)  # fmt: skip
    assert code == 2
    assert "--journal" in err
    assert "s3cret-pw" not in out + err
