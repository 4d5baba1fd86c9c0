"""``--dry-run`` and ``verify`` with PostgreSQL journals, attacked: the run a dry run would
resume is read without ``--run-id`` too, an unreachable journal is refused, and neither command
creates a journal's tables in an empty database."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import psycopg

import ica_tapis_async as ita
from tests.cli.served import served_simulator

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


async def _tables(dsn: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        return [str(row[0]) for row in await cursor.fetchall()]


async def test_an_empty_database_is_left_empty(pg_dsn: str, tmp_path: Path) -> None:
    source = tmp_path / "ids.txt"
    source.write_text("fil.00000000000000000000000000000001\n", encoding="utf-8")
    with served_simulator() as served:
        flags = ["--base-url", served.ica_url, "--api-key", "k"]
        for run in (["--run-id", "x"], []):
            code, out, err = await _cli("link", str(source), "--dry-run", "--journal", pg_dsn,
                                        *run, *flags, "--project", PROJECT)  # fmt: skip
            assert code == 0, err
            assert "a new journal" in out
            assert await _tables(pg_dsn) == []


async def test_without_run_id_the_run_a_rerun_would_resume_is_checked(
    pg_dsn: str, tmp_path: Path
) -> None:
    ids = [f"fil.{i:032x}" for i in range(1, 13)]
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n", encoding="utf-8")
    with served_simulator() as served:
        async with ita.IcaClient(served.ica_url, api_key="k") as ica:
            orchestrator = ita.BatchOrchestrator(ica, PROJECT, batch_size=5, journal=pg_dsn)
            try:
                assert (await orchestrator.link(ids)).ok
            finally:
                await orchestrator.aclose()
        flags = ["--base-url", served.ica_url, "--api-key", "k", "--project", PROJECT]
        argv = ["link", str(source), "--journal", pg_dsn, *flags]
        code, out, err = await _cli(*argv, "--dry-run", "--batch-size", "5")
        assert code == 0, err
        assert "3 of 3 batches already done" in out
        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            await conn.execute("UPDATE ita_runs SET finished = NULL")  # as if interrupted
            await conn.commit()
        real = await _cli(*argv, "--batch-size", "7")
        assert real[0] == 2  # the run refuses other options beside an unfinished run
        dry = await _cli(*argv, "--batch-size", "7", "--dry-run")
        assert dry[0] == 2, dry[1]
        assert "recorded with batch_size=5; this call has batch_size=7" in dry[2]
        gone = "postgresql://ita:s3cret-pw@127.0.0.1:1/none"
        code, out, err = await _cli("link", str(source), "--dry-run", "--journal", gone, *flags)
    assert code == 2, out
    assert "--journal" in err
    assert "s3cret-pw" not in out + err


async def test_verify_leaves_an_empty_database_empty(pg_dsn: str) -> None:
    with served_simulator() as served:
        flags = ["--base-url", served.ica_url, "--api-key", "k"]
        code, _, err = await _cli("verify", "--journal", pg_dsn, "--run-id", "x", *flags)
    assert code == 2
    assert "no run 'x'" in err
    assert await _tables(pg_dsn) == []


async def test_a_journal_of_a_newer_release_is_refused_in_one_line(
    pg_dsn: str, tmp_path: Path
) -> None:
    source = tmp_path / "ids.txt"
    source.write_text("fil.00000000000000000000000000000001\n", encoding="utf-8")
    async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
        await conn.execute("CREATE TABLE ita_schema (version integer NOT NULL)")
        await conn.execute("INSERT INTO ita_schema VALUES (99)")
        await conn.commit()
    with served_simulator() as served:
        flags = ["--base-url", served.ica_url, "--api-key", "k"]
        verify = await _cli("verify", "--journal", pg_dsn, "--run-id", "x", *flags)
        dry = await _cli("link", str(source), "--dry-run", "--journal", pg_dsn, *flags,
                         "--project", PROJECT)  # fmt: skip
    for code, _, err in (verify, dry):
        assert code == 2, err
        assert "version 99, newer than this release's" in err
        assert "Traceback" not in err


async def test_a_dry_run_interrupted_mid_way_writes_nothing(pg_dsn: str, tmp_path: Path) -> None:
    from tests.cli.shell import finish, interrupt, start

    source = tmp_path / "ids.txt"
    source.write_text("".join(f"fil.{i:032x}\n" for i in range(1, 26)), encoding="utf-8")

    def interrupted() -> tuple[int, str]:
        with served_simulator("--latency", "2") as slow:  # the GET is under way at the Ctrl-C
            process = start("link", str(source), "--dry-run", "--journal", pg_dsn, "--run-id",
                            "pg-dry", "--base-url", slow.ica_url, "--api-key", "k",
                            "--project", PROJECT)  # fmt: skip
            deadline = time.monotonic() + 30
            while not slow.operations().get("getDataTransfers") and time.monotonic() < deadline:
                time.sleep(0.05)
            interrupt(process)
            result = finish(process, timeout=60)
        return result.code, result.err

    code, err = await asyncio.to_thread(interrupted)
    assert code == 130
    assert "resume" not in err
    assert await _tables(pg_dsn) == []
