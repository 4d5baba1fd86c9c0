"""Real Redis and PostgreSQL for the scale-out tests: started once per test session.

Without the binaries the tests skip with a message saying how to get them, except under
``CI=true``, where a server that cannot start fails the tests (CI installs the packages).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.servers import PostgresServer, RedisServer, ServerUnavailable


def _unavailable(error: ServerUnavailable) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a test server cannot start: {error}", pytrace=False)
    pytest.skip(str(error))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throwaway redis-server for the session."""
    try:
        server = RedisServer()
        server.start()
    except ServerUnavailable as error:
        _unavailable(error)
        raise  # not reached: skip and fail raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the session."""
    try:
        server = PostgresServer()
        server.start()
    except ServerUnavailable as error:
        _unavailable(error)
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def limit_name() -> str:
    """A limiter name no other test uses (tests share the Redis server)."""
    return f"test:{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def pg_dsn(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty database of the session's cluster; dropped afterwards."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.dsn()
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.dsn(name)
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
