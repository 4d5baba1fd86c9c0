"""A rate budget shared by every process that names it: GCRA, CUBIC and leases kept in Redis."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

import anyio

from .._redact import redact_url
from . import _redis_scripts as scripts
from ._ratelimit import AdaptiveRateLimiter
from ._redis_arguments import validate_arguments
from ._redis_client import (
    SharedLimiterUnavailableError,
    answer_errors,
    busy,
    float_or_none,
    local_call,
    open_client,
    refusal_errors,
    refused_by_script,
    refused_error,
    stats_of,
    unavailable_error,
    unavailable_errors,
)

__all__ = ("RedisRateLimiter", "SharedLimiterUnavailableError")

log = logging.getLogger("ica_tapis_async.limiter")

_KEY_TTL_S: Final = 7 * 24 * 3600  # an idle budget disappears from Redis after a week
_FULL_WAIT_S: Final = 0.0125  # first look again when all in-flight slots are taken; doubles
# Where slow start begins when the rate is discovered: low enough for any API we call, and
# grown by half every second it is about ten seconds from hundreds of requests a second.
_SLOW_START_RATE: Final = 10.0
# The Redis time at which the current task's last slot was granted: a throttle of a request
# sent before the shared rate was last cut belongs to that congestion event.
_GRANTED: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar(
    "ica_tapis_async_redis_granted", default=None
)


class RedisRateLimiter:
    """One rate budget and one in-flight cap for every process that uses ``name`` on one Redis.

    Pass it to ``IcaClient(..., limiter=...)`` or ``TapisClient(..., limiter=...)`` in every
    worker, on every machine. Requests are paced by a GCRA token bucket kept in Redis and changed
    only by Lua scripts on Redis's own clock; a caller learns how long to wait and sleeps (no
    spinning). A throttled answer seen by any worker cuts the shared rate once per congestion
    event and stops every worker's grants at once; recovery (CUBIC) is shared, and a
    ``Retry-After`` pauses every worker. A cut after an event at least a second after the last
    one goes to just under the rate the server accepted between the two (its limit, measured);
    after a ``Retry-After`` the rate spends what the server saved up during the pause (at most
    10% over the limit, for about ten seconds), then probes gently past it (a stable limit
    costs about one throttled request in ten seconds). Each
    request in flight holds a lease that expires (renewed while the request runs), so a killed
    worker never keeps slots.

    When Redis cannot be reached the limiter does what ``on_unavailable`` says, and logs it:
    ``"local"`` falls back to an in-process limiter at ``fallback_share`` of the last shared
    rate it saw (of the told rate, or of the slow-start rate, before it saw one), evenly
    paced (no burst), at ``fallback_share`` of the in-flight cap, and tries Redis again every
    ``retry_unavailable_s``; ``"fail"`` raises :class:`SharedLimiterUnavailableError`. A
    Redis restarted empty is seeded with the last cut rate a worker saw, so the fleet does not
    discover the limit again, and grants no burst to workers that were sending; nor does one
    that comes back with its state (a stall, a partition) to workers back from the fallback.
    A Redis that refuses the limiter (a wrong password or user, an ACL that forbids its
    commands) raises :class:`SharedLimiterUnavailableError` with ``permanent`` set at the first
    call, whatever ``on_unavailable`` says.

    Args:
        url: ``redis://`` (or ``rediss://``, ``unix://``) URL; a password in it is never shown.
        name: the budget's name; processes using the same name share one budget.
        rate: requests per second for all workers together; ``None`` to discover it: slow
            start from 10/s (or ``burst``/s when larger), growing by half every second until
            the first 429, then CUBIC around the rate the server was found to accept.
        burst: how many requests may go at once after a quiet spell.
        max_in_flight: most requests in flight across all workers; ``None`` for no cap.
        min_rate: throttles never cut the rate below this.
        lease_ttl: seconds an in-flight lease lives unless renewed; renewed every third of it
            while the request runs.
        on_unavailable: ``"local"`` or ``"fail"`` (see above).
        fallback_share: share of the budget one worker takes while Redis is away, e.g. 0.25
            for four workers.
        retry_unavailable_s: how often to try Redis again while falling back.
        timeout: seconds to wait for Redis on each call before counting it as unavailable.
        password: the password when the URL holds none (read from a file or an environment
            variable, say, to keep it off command lines); never shown. One in the URL wins.

    Raises:
        ImportError: the ``redis`` extra is not installed.
        ValueError: a bad URL (also one whose password holds a character that would end it
            unencoded: "/", "?" or "#"), name or number.
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        rate: float | None = None,
        burst: int = 10,
        max_in_flight: int | None = None,
        min_rate: float = 0.5,
        lease_ttl: float = 30.0,
        on_unavailable: Literal["local", "fail"] = "local",
        fallback_share: float = 0.25,
        retry_unavailable_s: float = 1.0,
        timeout: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        password: str | None = None,
    ) -> None:
        validate_arguments(
            url, name, rate, burst, max_in_flight, min_rate, lease_ttl, fallback_share,
            retry_unavailable_s, timeout,
        )  # fmt: skip
        if on_unavailable not in ("local", "fail"):
            raise ValueError(f"on_unavailable must be 'local' or 'fail', not {on_unavailable!r}")
        self._redis: Any = open_client(url, timeout, password)
        self._url = redact_url(url)
        self.name = name
        self._configured = rate
        self._burst = burst
        self._max_in_flight = max_in_flight
        self._min_rate = min_rate
        self._start_rate = max(_SLOW_START_RATE, float(burst), min_rate)
        self._lease_ttl = lease_ttl
        self._on_unavailable = on_unavailable
        self._retry_s = retry_unavailable_s
        self._sleep = sleep
        self._state_key = f"ita:limit:{{{name}}}"
        self._lease_key = f"ita:limit:{{{name}}}:leases"
        self._acquire = self._redis.register_script(scripts.ACQUIRE)
        self._throttle = self._redis.register_script(scripts.THROTTLE)
        self._success = self._redis.register_script(scripts.SUCCESS)
        self._pause = self._redis.register_script(scripts.PAUSE)
        self._renew = self._redis.register_script(scripts.RENEW)
        self._share = fallback_share
        self._local = AdaptiveRateLimiter(
            None if rate is None else rate * fallback_share,
            burst=max(1, math.ceil(burst * fallback_share)),
            max_in_flight=(
                None if max_in_flight is None else max(1, math.ceil(max_in_flight * fallback_share))
            ),
            min_rate=min_rate,
        )
        self._lock = anyio.Lock()  # one waiter per process asks Redis; the others queue (FIFO)
        self._rate = rate
        self._throttled = False
        self._down_until: float | None = None  # monotonic; set while falling back to local
        self._held: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False
        self._local_paused_until = 0.0
        self._warned_config = False
        self._sent = False  # granted a shared slot before: a missing state was lost
        self._refusal: BaseException | None = None  # Redis refused to take a lease back

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter({self._url!r}, {self.name!r}, rate={self._configured!r}, "
            f"burst={self._burst!r}, max_in_flight={self._max_in_flight!r})"
        )

    @property
    def rate(self) -> float | None:
        """The shared rate as last seen (the local one while Redis is unavailable)."""
        return self._local.rate if self.degraded else self._rate

    @property
    def degraded(self) -> bool:
        """Whether the limiter is falling back to its local budget (Redis unavailable)."""
        return self._down_until is not None

    @property
    def in_flight(self) -> int:
        """Requests of this process holding a shared lease right now."""
        return len(self._held)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a shared lease and token (or a local one while degraded); hold the lease
        while the request runs and give it back afterwards."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._refusal is not None:
            raise self._refused(self._refusal)
        lease = await self._take()
        if lease is None:
            wait = self._local_paused_until - time.monotonic()
            if wait > 0:
                await self._sleep(wait)
            async with self._local.slot():
                _GRANTED.set(None)
                yield
            return
        self._held.add(lease)
        self._start_heartbeat()
        try:
            yield
        finally:
            self._held.discard(lease)
            await self._give_back(lease)

    async def record_success(self) -> None:
        """Report an answer that was not throttled; after a cut, lets the shared rate recover."""
        if self.degraded:
            await local_call(self._local.record_success)
            return
        if not self._throttled:
            return  # nothing to recover: spare Redis a call per request
        reply = await self._call(self._success, [self._state_key], [self._min_rate])
        if reply is not None:
            self._rate = float_or_none(reply)
            self._throttled = self._configured is None or (
                self._rate is not None and self._rate < self._configured
            )

    async def record_throttle(self) -> None:
        """Report a throttled answer; cuts the shared rate once per congestion event."""
        granted = _GRANTED.get()
        sent_at = granted[1] if granted is not None and granted[0] == id(self) else ""
        if self.degraded:
            await local_call(self._local.record_throttle)
            return
        reply = await self._call(
            self._throttle, [self._state_key], [sent_at, self._min_rate, self._burst]
        )
        if reply is None:
            await local_call(self._local.record_throttle)
            return
        cut, rate = reply
        self._rate = float_or_none(rate)
        self._throttled = True
        if int(cut) and self._rate is not None:
            log.info(
                "shared limit %r: throttled, rate cut to %.1f/s for all workers",
                self.name,
                self._rate,
            )

    async def pause_for(self, seconds: float) -> None:
        """Hold back every worker's new slots for ``seconds`` (a ``Retry-After``)."""
        if seconds <= 0:
            return
        # The local budget pauses too: it serves this process if Redis goes away meanwhile.
        self._local_paused_until = max(self._local_paused_until, time.monotonic() + seconds)
        if not self.degraded:
            await self._call(self._pause, [self._state_key], [seconds])

    async def stats(self) -> dict[str, float | int | str | None]:
        """The shared state as Redis holds it now (for status views and tests): ``rate``,
        ``configured``, ``throttles``, ``ceiling`` (the rate the last congestion event found),
        ``measured``, ``paused_until`` and ``in_flight``.

        Raises:
            SharedLimiterUnavailableError: Redis cannot be reached, or refuses this client.
        """
        try:
            state = await self._redis.hgetall(self._state_key)
            now = await self._redis.time()
            in_flight = await self._redis.zcount(self._lease_key, now[0] + now[1] / 1e6, "+inf")
        except refusal_errors() as exc:
            raise self._refused(exc) from None
        except unavailable_errors() as exc:
            raise self._error(exc) from exc
        except answer_errors() as exc:
            if busy(exc):
                raise self._error(exc) from exc
            raise
        return stats_of(state, in_flight)

    async def aclose(self) -> None:
        """Stop the heartbeat, give back held leases and close the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(self._heartbeat, return_exceptions=True)
        await self._redis.aclose()

    # -- internals -------------------------------------------------------------------------

    async def _take(self) -> str | None:
        """A granted lease id, or ``None`` to use the local budget (Redis unavailable)."""
        lease = uuid.uuid4().hex
        full = 0
        async with self._lock:
            while True:
                if self._use_local():
                    return None
                reply = await self._call(
                    self._acquire,
                    [self._state_key, self._lease_key],
                    [
                        lease,
                        self._lease_ttl,
                        self._max_in_flight or 0,
                        "" if self._configured is None else repr(float(self._configured)),
                        self._burst,
                        _KEY_TTL_S,
                        self._start_rate,
                        self._min_rate,
                        # A Redis restarted empty starts from the last cut, not from scratch.
                        repr(self._rate) if self._throttled and self._rate else "",
                        "1" if self._sent else "0",
                        "1" if self._down_until is not None else "0",
                    ],
                )
                if reply is None:
                    continue  # now degraded (or raised): the next turn uses the local budget
                granted, value, rate, throttled, changed, *more = reply
                self._rate = float_or_none(rate)
                self._throttled = throttled == b"1"
                if int(changed) and not self._warned_config:
                    self._warned_config = True
                    log.warning(
                        "shared limit %r: workers disagree about its rate; now %s",
                        self.name,
                        "discovered from throttles"
                        if self._configured is None
                        else f"{self._configured:.1f}/s",
                    )
                if int(granted):
                    self._sent = True
                    _GRANTED.set((id(self), value.decode()))
                    return lease
                if more and int(more[0]):
                    # Every in-flight slot is taken: look again later and later (a release
                    # frees one at any time), never more than 5 times a second once settled.
                    full += 1
                    await self._sleep(min(float(value), _FULL_WAIT_S * 2 ** min(full, 4)))
                    continue
                full = 0
                await self._sleep(float(value))

    async def _give_back(self, lease: str) -> None:
        if self.degraded:
            return  # the lease expires on its own
        with anyio.CancelScope(shield=True):
            try:
                await self._redis.zrem(self._lease_key, lease)
            except (*unavailable_errors(), *refusal_errors(), *answer_errors()) as exc:
                # A refusal surfaces, typed, at the next slot (the scripts may well be allowed,
                # and every lease would stay taken until it expires); here it would replace
                # whatever the caller's request raised. So would a BUSY Redis, or any other
                # error answer: the next slot meets it, typed, if it lasts.
                if isinstance(exc, refusal_errors()):
                    self._refusal = exc
                log.debug(
                    "shared limit %r: lease left to expire (%s)", self.name, type(exc).__name__
                )

    def _use_local(self) -> bool:
        if self._down_until is None:
            return False
        if time.monotonic() < self._down_until:
            return True
        self._down_until = time.monotonic() + self._retry_s  # probe Redis, at most once a period
        return False

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run a script; ``None`` when Redis is unavailable and the policy is to fall back."""
        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        try:
            reply = await script(keys=keys, args=args)
        except refusal_errors() as exc:
            # Checked first: redis-py files a failed AUTH under its connection errors.
            raise self._refused(exc) from None
        except unavailable_errors() as exc:
            return self._away(exc)
        except answer_errors() as exc:
            if refused_by_script(exc):
                raise self._refused(exc) from None
            if busy(exc):
                return self._away(exc)
            raise
        if task is not None and task.cancelling() > cancels:
            # redis-py can swallow a cancellation that arrives while it reads the reply
            # (redis/redis-py#2028): the caller asked to stop, so stop.
            raise asyncio.CancelledError
        if self._down_until is not None:
            self._down_until = None
            log.warning("shared limit %r at %s reachable again", self.name, self._url)
        return reply

    def _away(self, exc: BaseException) -> None:
        """Redis cannot keep the budget for now: fail, or fall back (``None``: no reply)."""
        if self._on_unavailable == "fail":
            raise self._error(exc) from exc
        if self._down_until is None:
            self._fall_back(exc)
        self._down_until = time.monotonic() + self._retry_s

    def _fall_back(self, exc: BaseException) -> None:
        # The local share of the last budget seen: with a discovered rate there is no told
        # rate to take a share of, and an unpaced worker would undo the discovery in a second.
        last = self._rate if self._rate is not None else self._configured or self._start_rate
        if not (math.isfinite(last) and last > 0):  # never from these scripts; still no crash
            last = self._configured or self._start_rate
        # Evenly paced (burst 1): the shared budget was being spent when Redis went away, and
        # a burst from every worker at once would meet an empty budget at the server.
        self._local.update(rate=max(last * self._share, min(self._min_rate, last)), burst=1)
        log.warning(
            "shared limit %r at %s unavailable (%s): falling back to %.1f/s in this process "
            "(%g of %.1f/s)",
            self.name,
            self._url,
            type(exc).__name__,
            self._local.rate,
            self._share,
            last,
        )

    def _refused(self, exc: BaseException) -> SharedLimiterUnavailableError:
        return refused_error(self.name, self._url, exc)

    def _error(self, exc: BaseException) -> SharedLimiterUnavailableError:
        return unavailable_error(self.name, self._url, exc)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._renew_leases())

    async def _renew_leases(self) -> None:
        while self._held:
            await asyncio.sleep(self._lease_ttl / 3)
            held = list(self._held)
            if held and not self.degraded:
                await self._call(self._renew, [self._lease_key], [self._lease_ttl, *held])
