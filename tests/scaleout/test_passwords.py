"""Passwords of the shared servers: refusals, characters URLs give a meaning to, and passwords
kept off command lines (a file, or the engines' own environment variables)."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli import main
from ica_tapis_async.simulator import Simulator
from tests.scaleout._worker import PROJECT, items
from tests.servers import PostgresServer, RedisServer


async def _grant(limiter: ita.RedisRateLimiter) -> None:
    async with limiter.slot():
        pass


PASSWORD = "pa@ss/w#rd?%41"  # every character a URL gives a meaning to


@pytest.fixture(scope="module")
def locked_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """A redis-server of its own that wants a password, with a user the ACL limits to GET
    and one that may do all but give a lease back (ZREM).

    Depends on ``redis_server``, which skips (or fails under CI=true) without the binary.
    """
    import redis

    server = RedisServer()
    server.start()
    try:
        admin = redis.Redis(host="127.0.0.1", port=server.port)
        admin.config_set("requirepass", PASSWORD)
        admin = redis.Redis(host="127.0.0.1", port=server.port, password=PASSWORD)
        for user, commands in (("reader", ("+get",)), ("keeper", ("+@all", "-zrem"))):
            acl = ("ACL", "SETUSER", user, "on", f">{PASSWORD}", "~*", *commands)
            admin.execute_command(*acl)  # type: ignore[no-untyped-call]
        admin.close()
        yield server
    finally:
        server.stop()


def _url(server: RedisServer, user_info: str) -> str:
    return f"redis://{user_info}@127.0.0.1:{server.port}/0"


@pytest.mark.parametrize(
    ("user_info", "reason"),
    [
        (":wrong-pw", "invalid username-password pair"),
        (f"reader:{quote(PASSWORD, safe='')}", "no permissions to run the 'evalsha' command"),
    ],
)
async def test_a_refusing_redis_fails_at_once_whatever_the_policy(
    locked_redis: RedisServer, user_info: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = ita.RedisRateLimiter(_url(locked_redis, user_info), "refused", rate=5)
    try:
        with caplog.at_level(logging.DEBUG), anyio.fail_after(2):
            with pytest.raises(ita.SharedLimiterUnavailableError) as caught:
                await _grant(limiter)  # on_unavailable="local": yet no local fallback
            with pytest.raises(ita.SharedLimiterUnavailableError):
                await limiter.stats()
        assert not limiter.degraded
    finally:
        await limiter.aclose()
    error = caught.value
    assert error.permanent
    assert reason in str(error)
    assert pickle.loads(pickle.dumps(error)).permanent  # e.g. from a worker process
    assert str(error).startswith(
        f"shared rate limit 'refused' at redis://***@127.0.0.1:{locked_redis.port}/0: "
        "refused by the server ("
    )
    for text in (str(error), repr(limiter), caplog.text):
        assert "wrong-pw" not in text
        assert quote(PASSWORD, safe="") not in text
    assert "falling back" not in caplog.text


async def test_a_redis_that_wants_a_password_and_got_none_fails_at_once(
    locked_redis: RedisServer,
) -> None:
    limiter = ita.RedisRateLimiter(
        f"redis://127.0.0.1:{locked_redis.port}/0", "anonymous", on_unavailable="fail"
    )
    try:
        with pytest.raises(ita.SharedLimiterUnavailableError) as caught:
            await _grant(limiter)
    finally:
        await limiter.aclose()
    assert caught.value.permanent
    assert "refused by the server (AuthenticationError: " in str(caught.value)


async def test_a_percent_encoded_password_with_url_characters_works(
    locked_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = _url(locked_redis, f":{quote(PASSWORD, safe='')}")
    limiter = ita.RedisRateLimiter(url, "encoded", rate=5)
    try:
        await _grant(limiter)
        assert not limiter.degraded
        assert (await limiter.stats())["configured"] == 5
        assert repr(limiter).startswith(
            f"RedisRateLimiter('redis://***@127.0.0.1:{locked_redis.port}/0', 'encoded'"
        )
    finally:
        await limiter.aclose()


async def test_a_password_passed_apart_from_the_url_is_used_and_never_shown(
    locked_redis: RedisServer,
) -> None:
    url = f"redis://127.0.0.1:{locked_redis.port}/0"
    limiter = ita.RedisRateLimiter(url, "apart", rate=5, password=PASSWORD)
    try:
        await _grant(limiter)
        assert (await limiter.stats())["configured"] == 5
        assert PASSWORD not in repr(limiter)
    finally:
        await limiter.aclose()


@pytest.fixture(scope="module")
def locked_postgres(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of its own that asks every client for its password (SCRAM).

    Depends on ``postgres_server``, which skips (or fails under CI=true) without the binaries.
    """
    import psycopg

    server = PostgresServer()
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f"ALTER ROLE postgres PASSWORD '{PASSWORD}'")
            conn.execute("CREATE DATABASE locked")
            hba = conn.execute("SHOW hba_file").fetchone()
            assert hba is not None
            rule = "host all all 127.0.0.1/32 scram-sha-256"
            conn.execute(f"COPY (SELECT '{rule}') TO '{hba[0]}'")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


def _link(
    sim: Simulator, ids: Path, journal: str, redis_url: str, capsys: pytest.CaptureFixture[str],
    *extra: str, run_id: str = "pw-run",
) -> tuple[int, str]:  # fmt: skip
    code = main([
        "link", str(ids), "--json", "-q", "--journal", journal, "--run-id", run_id,
        "--batch-size", "10", "--shared-limit", redis_url, "--limit-name", "pw",
        "--base-url", sim.ica_url, "--api-key", "k", "--project", PROJECT, *extra,
    ])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_command_line_takes_passwords_from_a_file_and_the_engines_variables(
    locked_redis: RedisServer,
    locked_postgres: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in items("link", 20)), encoding="utf-8")
    secret = tmp_path / "redis-password"
    secret.write_text(f"{PASSWORD}\n", encoding="utf-8")
    journal = locked_postgres.dsn("locked")  # no password in either URL
    redis_url = f"redis://127.0.0.1:{locked_redis.port}/0"
    monkeypatch.delenv("REDISCLI_AUTH", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    caplog.set_level(logging.DEBUG)
    assert main(["status", "--journal", journal, "--run-id", "pw-run"]) == 2  # it asks
    assert "no password supplied" in capsys.readouterr().err
    with Simulator(seed=21) as sim:
        monkeypatch.setenv("PGPASSWORD", PASSWORD)  # libpq's own variable
        code, out = _link(sim, ids, journal, redis_url, capsys, "--shared-limit-password-file",
                          str(secret))  # fmt: skip
        assert code == 0, out
        report = json.loads(out)
        assert report["total"] == 20
        assert report["counts"] == {"LINKED": 20}
        # Then redis-cli's variable and libpq's password file (~/.pgpass), for status too.
        monkeypatch.delenv("PGPASSWORD")
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{locked_postgres.port}:*:postgres:{PASSWORD}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        monkeypatch.setenv("REDISCLI_AUTH", PASSWORD)
        code, again = _link(sim, ids, journal, redis_url, capsys)
        assert code == 0, again
        assert json.loads(again)["counts"] == {"LINKED": 20}
        assert main(["status", "--journal", journal, "--run-id", "pw-run", "--json"]) == 0
        status = capsys.readouterr().out
        assert json.loads(status)["chunks"]["done"] == 2
        # The password in the URL itself, percent-encoded: used, and shown as *** only.
        in_url = journal.replace("postgres@", f"postgres:{quote(PASSWORD, safe='')}@")
        monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
        assert main(["status", "--journal", in_url, "--run-id", "pw-run", "--json"]) == 0
        shown = capsys.readouterr().out
        assert (
            json.loads(shown)["journal"]
            == f"postgresql://***@127.0.0.1:{locked_postgres.port}/locked"
        )
        batches = sim.stats.batches["linking"]
    assert batches == 2  # the second run followed the journal: nothing sent twice
    for text in (out, again, status, shown, caplog.text):
        assert PASSWORD not in text
        assert quote(PASSWORD, safe="") not in text


def test_a_wrong_password_from_the_environment_is_one_clear_line(
    locked_redis: RedisServer,
    locked_postgres: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in items("link", 10)), encoding="utf-8")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    monkeypatch.setenv("REDISCLI_AUTH", "not-the-password")
    with Simulator(seed=22) as sim:
        code, out = _link(sim, ids, locked_postgres.dsn("locked"),
                          f"redis://127.0.0.1:{locked_redis.port}/0", capsys,
                          run_id="wrong-pw")  # fmt: skip
        sent = sim.stats.requests
    assert code != 0
    assert "refused by the server (AuthenticationError: invalid username-password pair" in out
    assert "not-the-password" not in out
    assert sent == 0  # nothing went without the shared budget
    missing = tmp_path / "missing"
    with Simulator(seed=22) as sim:
        code, out = _link(sim, ids, locked_postgres.dsn("locked"),
                          f"redis://127.0.0.1:{locked_redis.port}/0", capsys,
                          "--shared-limit-password-file", str(missing),
                          run_id="no-file")  # fmt: skip
    assert code == 2
    assert out.strip() == (
        f"error: --shared-limit-password-file {missing}: cannot read it: No such file or directory"
    )
    empty = tmp_path / "empty"
    empty.write_text("\nsecond line\n", encoding="utf-8")
    with Simulator(seed=22) as sim:
        code, out = _link(sim, ids, locked_postgres.dsn("locked"),
                          f"redis://127.0.0.1:{locked_redis.port}/0", capsys,
                          "--shared-limit-password-file", str(empty), run_id="empty")  # fmt: skip
        assert (code, out.strip()) == (
            2,
            f"error: --shared-limit-password-file {empty}: its first line is empty",
        )
        code = main([
            "link", str(ids), "--shared-limit-password-file", str(empty),
            "--base-url", sim.ica_url, "--api-key", "k", "--project", PROJECT,
        ])  # fmt: skip
        requests = sim.stats.requests
    assert code == 2
    assert "--shared-limit-password-file needs --shared-limit URL" in capsys.readouterr().err
    assert requests == 0


async def test_a_refused_lease_return_does_not_replace_the_callers_error(
    locked_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = _url(locked_redis, f"keeper:{quote(PASSWORD, safe='')}")
    limiter = ita.RedisRateLimiter(url, "keeper", rate=50, lease_ttl=1)
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="ica_tapis_async.limiter"),
            pytest.raises(LookupError, match="the request's own error"),
        ):
            async with limiter.slot():
                raise LookupError("the request's own error")
        assert "lease left to expire (NoPermissionError)" in caplog.text
        assert limiter.in_flight == 0
    finally:
        await limiter.aclose()


def test_verify_takes_the_shared_limit_password_from_a_file_too(
    locked_redis: RedisServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's way to keep the Redis password off the command line holds for every
    command that takes --shared-limit, not only the batch commands."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in items("link", 10)), encoding="utf-8")
    secret = tmp_path / "redis-password"
    secret.write_text(f"{PASSWORD}\n", encoding="utf-8")
    journal = str(tmp_path / "link.sqlite")
    redis_url = f"redis://127.0.0.1:{locked_redis.port}/0"
    monkeypatch.delenv("REDISCLI_AUTH", raising=False)
    shared = ["--shared-limit", redis_url, "--shared-limit-password-file", str(secret)]
    with Simulator(seed=23) as sim:
        connection = ["--base-url", sim.ica_url, "--api-key", "k"]
        code = main(["link", str(ids), "--json", "-q", "--journal", journal, "--run-id", "v",
                     "--project", PROJECT, *shared, *connection])  # fmt: skip
        assert code == 0, capsys.readouterr()
        capsys.readouterr()
        code = main(["verify", "--journal", journal, "--run-id", "v", "--json", *shared,
                     *connection])  # fmt: skip
        out = capsys.readouterr()
    assert code == 0, out
    assert PASSWORD not in out.out + out.err


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_refused_redis_is_a_configuration_error_like_a_refused_journal(
    locked_redis: RedisServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    dry_run: bool,
) -> None:
    """Exit 2 (configuration), as for a wrong journal password: a dry run promises 0 when the
    run would start and 2 otherwise, and a wrong password is no server's failure (1)."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{i}\n" for i in items("link", 4)), encoding="utf-8")
    monkeypatch.setenv("REDISCLI_AUTH", "not-the-password")
    with Simulator(seed=24) as sim:
        code = main([
            "link", str(ids), "--shared-limit", f"redis://127.0.0.1:{locked_redis.port}/0",
            "--base-url", sim.ica_url, "--api-key", "k", "--project", PROJECT,
            *(["--dry-run"] if dry_run else []),
        ])  # fmt: skip
        sent = sim.stats.requests
    err = capsys.readouterr().err
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    shown = f"redis://127.0.0.1:{locked_redis.port}/0"
    assert last.startswith(
        f"error: shared rate limit 'ica' at {shown}: refused by the server (AuthenticationError: "
    ), err
    assert sent == 0
