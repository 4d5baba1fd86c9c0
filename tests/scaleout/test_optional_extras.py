"""The scale-out backends are optional: the package imports without redis or psycopg."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ica_tapis_async.orchestrator import PostgresJournal, SqliteJournal
from ica_tapis_async.orchestrator._journal_open import open_journal

_BLOCKED = """
import sys
sys.modules["redis"] = None  # as if not installed: import raises ImportError
sys.modules["redis.asyncio"] = None
sys.modules["psycopg"] = None
sys.modules["psycopg_pool"] = None
import ica_tapis_async as ita
for make in (lambda: ita.RedisRateLimiter("redis://127.0.0.1:1/0", "n"),
             lambda: ita.PostgresJournal("postgresql://u@127.0.0.1:1/d")):
    try:
        make()
    except ImportError as exc:
        print(exc)
"""


def test_the_package_imports_without_the_extras_and_names_them() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == [
        "RedisRateLimiter needs redis-py: pip install 'ica_tapis_async[redis]'",
        "PostgresJournal needs psycopg 3: pip install 'ica_tapis_async[postgres]'",
    ]


def test_importing_the_package_loads_neither_driver() -> None:
    code = "import sys, ica_tapis_async; print(sorted({'redis', 'psycopg'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("url", ["postgresql://u@127.0.0.1:1/d", "postgres://u@127.0.0.1:1/d"])
async def test_a_database_url_opens_a_postgres_journal(url: str) -> None:
    journal, owned = open_journal(url)
    assert isinstance(journal, PostgresJournal)
    assert owned
    await journal.aclose()


async def test_a_path_opens_a_sqlite_journal(tmp_path: object) -> None:
    journal, owned = open_journal(f"{tmp_path}/j.sqlite")
    assert isinstance(journal, SqliteJournal)
    assert owned
    await journal.aclose()
