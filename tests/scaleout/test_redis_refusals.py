"""What a Redis answers besides a grant: an ACL that forbids a command the limiter's scripts run
is a refusal (typed, at once), and a replica cut off from its master in a failover is a Redis
that is away (the local fallback), never a raw redis-py error out of ``slot()``."""

from __future__ import annotations

import logging
import uuid

import anyio
import pytest

import ica_tapis_async as ita
from tests.servers import RedisServer


async def _grant(limiter: ita.RedisRateLimiter) -> None:
    async with limiter.slot():
        pass


async def test_an_acl_that_forbids_a_command_inside_the_scripts_is_a_refusal(
    redis_server: RedisServer,
) -> None:
    """The user may run EVALSHA but not the commands the scripts call (TIME, HSET...): Redis
    7.0 answers a plain ``ERR`` from inside the script, which redis-py files as a bare
    ResponseError."""
    import redis

    user = f"scripter{uuid.uuid4().hex[:8]}"
    admin = redis.Redis(host="127.0.0.1", port=redis_server.port)
    acl = ("ACL", "SETUSER", user, "on", ">Pw0rd", "~*", "+evalsha", "+eval", "+script")
    admin.execute_command(*acl)  # type: ignore[no-untyped-call]
    admin.close()
    url = f"redis://{user}:Pw0rd@127.0.0.1:{redis_server.port}/0"
    limiter = ita.RedisRateLimiter(url, "acl-in-script", rate=5)
    try:
        with anyio.fail_after(5), pytest.raises(ita.SharedLimiterUnavailableError) as caught:
            await _grant(limiter)
        assert not limiter.degraded
    finally:
        await limiter.aclose()
    assert caught.value.permanent
    assert "refused by the server (" in str(caught.value)
    assert "Pw0rd" not in str(caught.value)


async def test_a_replica_cut_off_from_its_master_counts_as_away(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Mid-failover the URL can name a replica whose master is gone and that serves no stale
    data: it answers MASTERDOWN to every script. The limiter falls back, as for a Redis that
    is down, and shares the budget again once the replica is promoted."""
    import redis

    server = RedisServer()  # depends on redis_server: skips (or fails under CI) without Redis
    server.start()
    try:
        admin = redis.Redis(host="127.0.0.1", port=server.port)
        admin.config_set("replica-serve-stale-data", "no")
        admin.execute_command("REPLICAOF", "127.0.0.1", "1")  # type: ignore[no-untyped-call]
        limiter = ita.RedisRateLimiter(
            server.url, "masterdown", rate=40, retry_unavailable_s=0.2, fallback_share=0.25
        )
        try:
            with caplog.at_level(logging.WARNING), anyio.fail_after(5):
                await _grant(limiter)
                assert limiter.degraded
                assert limiter.rate == pytest.approx(10.0)
                assert "unavailable (MasterDownError): falling back to 10.0/s" in caplog.text
                admin.execute_command("REPLICAOF", "NO", "ONE")  # type: ignore[no-untyped-call]
                await anyio.sleep(0.3)
                await _grant(limiter)
                assert not limiter.degraded
                assert (await limiter.stats())["configured"] == 40
        finally:
            await limiter.aclose()
            admin.close()
    finally:
        server.stop()


async def test_an_acl_that_forbids_giving_a_lease_back_fails_the_next_slot(
    redis_server: RedisServer, limit_name: str
) -> None:
    """A user that may run the scripts but not ZREM: every lease would stay taken until it
    expires, and with an in-flight cap the fleet would crawl with no error anywhere. The
    refusal is raised, typed, at the next slot instead."""
    import redis

    user = f"keeper{uuid.uuid4().hex[:8]}"
    admin = redis.Redis(host="127.0.0.1", port=redis_server.port)
    acl = ("ACL", "SETUSER", user, "on", ">Pw0rd", "~*", "+@all", "-zrem")
    admin.execute_command(*acl)  # type: ignore[no-untyped-call]
    admin.close()
    url = f"redis://{user}:Pw0rd@127.0.0.1:{redis_server.port}/0"
    limiter = ita.RedisRateLimiter(url, limit_name, rate=100, max_in_flight=1, lease_ttl=30)
    try:
        await _grant(limiter)  # granted; its lease cannot be given back
        with anyio.fail_after(3), pytest.raises(ita.SharedLimiterUnavailableError) as caught:
            await _grant(limiter)
    finally:
        await limiter.aclose()
    assert caught.value.permanent
    assert "NoPermissionError" in str(caught.value)


async def test_a_redis_busy_with_another_clients_script_counts_as_away(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Another application's long Lua script on a shared Redis: every other client is answered
    BUSY until it ends. The limiter falls back meanwhile, as for a Redis that is down."""
    import threading

    import redis

    server = RedisServer()  # its own: its scripts are killed below
    server.start()
    try:
        admin = redis.Redis(host="127.0.0.1", port=server.port)
        admin.config_set("busy-reply-threshold", 50)
        spinning = threading.Event()

        def spin() -> None:
            other = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
            spinning.set()
            with pytest.raises(redis.exceptions.ResponseError):  # killed below
                other.eval("while true do end", 0)
            other.close()

        thread = threading.Thread(target=spin)
        thread.start()
        spinning.wait(5)
        await anyio.sleep(0.3)  # past the threshold: Redis answers BUSY
        limiter = ita.RedisRateLimiter(server.url, "busy", rate=20, retry_unavailable_s=0.1)
        try:
            with caplog.at_level(logging.WARNING), anyio.fail_after(5):
                await _grant(limiter)
                assert limiter.degraded
                assert "unavailable (ResponseError): falling back to 5.0/s" in caplog.text
                with pytest.raises(ita.SharedLimiterUnavailableError, match="unavailable"):
                    await limiter.stats()
                admin.script_kill()
                thread.join(5)
                await anyio.sleep(0.2)
                await _grant(limiter)
                assert not limiter.degraded
        finally:
            await limiter.aclose()
            admin.close()
            thread.join(5)
    finally:
        server.stop()


async def test_a_lease_given_back_to_a_busy_redis_does_not_fail_the_request(
    redis_server: RedisServer,
) -> None:
    """The request went through; Redis turned BUSY before its lease came back: the lease is
    left to expire, and the caller sees its request's own result."""
    import threading

    import redis

    server = RedisServer()
    server.start()
    try:
        admin = redis.Redis(host="127.0.0.1", port=server.port)
        admin.config_set("busy-reply-threshold", 50)
        limiter = ita.RedisRateLimiter(server.url, "busy-give-back", rate=20)
        thread: threading.Thread | None = None
        try:
            with anyio.fail_after(5):
                async with limiter.slot():

                    def spin() -> None:
                        other = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
                        with pytest.raises(redis.exceptions.ResponseError):  # killed below
                            other.eval("while true do end", 0)
                        other.close()

                    thread = threading.Thread(target=spin)
                    thread.start()
                    await anyio.sleep(0.4)  # past the threshold: Redis answers BUSY
                assert limiter.in_flight == 0
        finally:
            admin.script_kill()
            if thread is not None:
                thread.join(5)
            await limiter.aclose()
            admin.close()
    finally:
        server.stop()
