"""``runs``, ``status`` and ``export`` only read a PostgreSQL journal too: pointed at an empty
database they are refused, exit 2, and leave it without the journal's tables."""

from __future__ import annotations

import asyncio
import os
import sys

import psycopg
import pytest


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


@pytest.mark.parametrize(
    "tool", [["runs"], ["status"], ["export", "--format", "csv"]], ids=lambda tool: tool[0]
)
async def test_an_empty_database_is_refused_and_left_empty(pg_dsn: str, tool: list[str]) -> None:
    code, out, err = await _cli(*tool, "--journal", pg_dsn)
    assert code == 2, (out, err)
    assert "holds no journal" in err
    assert await _tables(pg_dsn) == []
