"""How RedisRateLimiter finds a limit nobody told it: slow start, measured cuts, gentle probes.

The scripts read Redis's own clock, so these tests move the shared state's times into the past
instead of waiting (as a fake clock would), then check what the next script call makes of it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

import ica_tapis_async as ita
from tests.servers import RedisServer


class _State:
    """The shared state hash of one limiter name, read and written behind the limiter's back."""

    def __init__(self, url: str, name: str) -> None:
        import redis

        self._client: Any = redis.Redis.from_url(url)
        self._key = f"ita:limit:{{{name}}}"

    def now(self) -> float:
        seconds, micros = self._client.time()
        return float(seconds) + float(micros) / 1e6

    def get(self, field: str) -> float:
        return float(self._client.hget(self._key, field))

    def set(self, **fields: float) -> None:
        self._client.hset(self._key, mapping={k: f"{v:.6f}" for k, v in fields.items()})

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def state(redis_server: RedisServer, limit_name: str) -> Iterator[_State]:
    shared = _State(redis_server.url, limit_name)
    yield shared
    shared.close()


@pytest.fixture
async def discovering(
    redis_server: RedisServer, limit_name: str
) -> AsyncIterator[ita.RedisRateLimiter]:
    """A worker that was told no rate."""
    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=None, burst=1)
    yield limiter
    await limiter.aclose()


@pytest.fixture
async def told_five(
    redis_server: RedisServer, limit_name: str
) -> AsyncIterator[ita.RedisRateLimiter]:
    """A worker told 5 requests/s, burst 1."""
    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=5, burst=1)
    yield limiter
    await limiter.aclose()


async def _grant(limiter: ita.RedisRateLimiter) -> None:
    async with limiter.slot():
        pass


async def _measured_cut(limiter: ita.RedisRateLimiter, state: _State) -> None:
    """Slow start ends at a first throttle; a second one two seconds later, after 101 grants
    (the throttled one the 101st), measures the server's limit: 100 requests in 2 s, 50/s."""
    await _grant(limiter)
    await limiter.record_throttle()
    await _grant(limiter)
    state.set(
        last_cut=state.now() - 2, cut_grants=state.get("grants") - 101, rate=100, measured=200
    )
    await limiter.record_throttle()


async def test_slow_start_grows_the_rate_by_half_every_second(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    assert discovering.rate == 10  # where slow start begins
    start = time.monotonic()  # before the clock is read: bounds the growth from above
    state.set(first_grant=state.now() - 4, measured=1000)
    await _grant(discovering)  # waits up to 0.1 s for its token
    waited = time.monotonic() - start
    assert discovering.rate is not None
    assert 10 * 1.5**4 <= discovering.rate <= 10 * 1.5 ** (4 + waited)  # 50.6/s: not doubled


async def test_slow_start_never_runs_past_twice_what_was_sent(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    # Ten quiet seconds would double the rate ten times; the workers only sent 15/s.
    state.set(first_grant=state.now() - 10, measured=15)
    await _grant(discovering)
    assert discovering.rate == pytest.approx(30)


async def test_the_first_throttle_cuts_slow_start_under_the_limit(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    state.set(first_grant=state.now() - 6, measured=1000)
    await _grant(discovering)
    before = discovering.rate
    assert before is not None
    assert before > 110
    state.set(measured=60)  # lags a growing rate: not what the cut starts from
    await discovering.record_throttle()
    stats = await discovering.stats()
    # The first 429 comes at about twice the limit: 0.4x is under it; the curve climbs back
    # towards half the slow-start rate, where the next event measures the limit.
    assert stats["rate"] == pytest.approx(before * 0.4)
    assert stats["ceiling"] == pytest.approx(before / 2)
    assert discovering.rate == pytest.approx(before * 0.4)


async def test_a_later_cut_goes_just_under_the_rate_the_server_accepted(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _measured_cut(discovering, state)
    stats = await discovering.stats()
    ceiling = stats["ceiling"]
    assert isinstance(ceiling, float)
    assert 49.5 < ceiling <= 50
    assert stats["rate"] == pytest.approx(0.98 * ceiling)


async def test_a_pause_after_a_measured_cut_spends_what_the_server_saved(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _measured_cut(discovering, state)
    limit = state.get("limit")
    assert 49.5 < limit <= 50
    # A one-second Retry-After: the server saves up a second of its rate; spent over ten.
    await discovering.pause_for(1.0)
    assert state.get("rate") == pytest.approx(limit * 1.1, rel=0.002)
    assert state.get("w_max") == pytest.approx(limit * 1.1, rel=0.002)
    assert state.get("k") == 0
    # ... and the probe past it comes only ten seconds on: +25% then, not +25% after five.
    assert state.get("scale") == pytest.approx(limit * 1.1 * 0.25 / 1000, rel=0.002)


async def test_a_pause_after_an_unmeasured_cut_changes_no_rate(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    await discovering.record_throttle()  # slow start ends: nothing measured yet
    rate = state.get("rate")
    await discovering.pause_for(1.0)
    assert state.get("rate") == rate


async def test_a_cut_soon_after_the_last_one_falls_back_to_seventy_percent(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    await discovering.record_throttle()
    await _grant(discovering)
    # Half a second is too short to measure the server's rate: the classic cut.
    state.set(last_cut=state.now() - 0.5, rate=40, measured=200)
    await discovering.record_throttle()
    assert (await discovering.stats())["rate"] == pytest.approx(28)


async def test_a_cut_stops_every_worker_at_once_without_a_burst(
    redis_server: RedisServer, limit_name: str, state: _State
) -> None:
    a, b = (
        ita.RedisRateLimiter(redis_server.url, limit_name, rate=100, burst=10) for _ in range(2)
    )
    try:
        await _grant(a)
        state.set(measured=20)
        await a.record_throttle()  # cut to 14/s
        assert a.rate == pytest.approx(14)
        start = time.monotonic()
        await _grant(b)
        # The server's budget is spent: a short silence (five intervals, at most 0.1 s) lets
        # it save up some requests before the first grant (one arriving a little early is
        # not throttled) ...
        assert time.monotonic() - start >= (1 / 14 + 0.1) * 0.9
        for _ in range(2):
            await _grant(b)
        # ... then the other worker waits an interval for each grant instead of spending the
        # burst its idle bucket would have allowed.
        assert time.monotonic() - start >= (3 / 14 + 0.1) * 0.9
    finally:
        await a.aclose()
        await b.aclose()


async def test_recovery_holds_at_the_ceiling_then_probes_gently(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _measured_cut(discovering, state)
    ceiling, k = state.get("w_max"), state.get("k")
    assert 3 < k < 5  # seconds back to the ceiling from 2% under it
    last = state.get("last_throttle")
    state.set(last_throttle=last - k)
    await discovering.record_success()
    assert discovering.rate == pytest.approx(ceiling, rel=0.001)
    state.set(last_throttle=last - k - 5)
    await discovering.record_success()
    assert discovering.rate == pytest.approx(ceiling * 1.03125, rel=0.002)  # still near it
    state.set(last_throttle=last - k - 10)
    await discovering.record_success()
    assert discovering.rate == pytest.approx(ceiling * 1.25, rel=0.01)


async def test_a_discovered_rate_left_idle_does_not_run_away(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _measured_cut(discovering, state)
    ceiling = state.get("w_max")
    # A day later the curve alone would allow millions a second; the workers send 10/s.
    state.set(last_throttle=state.get("last_throttle") - 86_400, measured=10)
    await discovering.record_success()
    assert discovering.rate == pytest.approx(ceiling)
    state.set(measured=40)  # sending near the ceiling again: probing past it may go to 2x
    await discovering.record_success()
    assert discovering.rate == pytest.approx(80)


async def test_workers_discover_one_rate_together(
    redis_server: RedisServer, limit_name: str
) -> None:
    workers = [
        ita.RedisRateLimiter(redis_server.url, limit_name, rate=None, burst=1) for _ in range(2)
    ]
    try:
        async with anyio.create_task_group() as tg:
            for worker in workers:
                tg.start_soon(_grant, worker)
        await workers[0].record_throttle()
        await _grant(workers[1])
        assert workers[0].rate == workers[1].rate
        assert (await workers[1].stats())["throttles"] == 1
    finally:
        for worker in workers:
            await worker.aclose()


async def test_a_few_grants_between_events_are_no_measurement(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    await discovering.record_throttle()  # slow start ends
    await _grant(discovering)
    # Two seconds on, but one grant since the cut: "the server accepted 0/s" is no measurement
    # (it would set the shared rate to 0); the classic cut instead.
    state.set(last_cut=state.now() - 2, cut_grants=state.get("grants") - 1, rate=40, measured=200)
    await discovering.record_throttle()
    assert state.get("rate") == pytest.approx(28)
    assert state.get("measured_cut") == 0


async def test_neither_a_measured_cut_nor_a_pause_goes_below_min_rate(
    discovering: ita.RedisRateLimiter, state: _State
) -> None:
    await _grant(discovering)
    await discovering.record_throttle()
    await _grant(discovering)
    # Five grants in 100 s: the server accepted 0.04/s, under min_rate (0.5 by default).
    state.set(last_cut=state.now() - 100, cut_grants=state.get("grants") - 5, rate=1, measured=1)
    await discovering.record_throttle()
    assert state.get("limit") == pytest.approx(0.5)
    assert state.get("rate") == pytest.approx(0.5)
    await discovering.pause_for(1.0)
    assert state.get("rate") >= 0.5
    assert state.get("scale") > 0  # the curve still climbs back


async def test_a_state_with_no_rate_and_no_schedule_does_not_stall_the_workers(
    told_five: ita.RedisRateLimiter, state: _State
) -> None:
    # What older versions could leave behind after a Retry-After at a tiny limit.
    limiter = told_five  # told 5/s, burst 1
    await _grant(limiter)
    await limiter.record_throttle()
    state.set(rate=0, tat=float("inf"), scale=0, w_max=0, k=0)
    with anyio.fail_after(2):
        await _grant(limiter)
    assert state.get("tat") < state.now() + 10
    state.set(last_throttle=state.now() - 60)
    await limiter.record_success()
    assert limiter.rate == 5  # recovered to the told rate, not stuck at min_rate


async def test_the_silence_after_a_cut_is_short_at_low_rates(
    redis_server: RedisServer, limit_name: str
) -> None:
    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=1, burst=1)
    try:
        await _grant(limiter)
        await limiter.record_throttle()  # cut to 0.7/s
        start = time.monotonic()
        await _grant(limiter)
        # One interval (1.43 s) and at most 0.1 s of silence, not five more intervals (7 s).
        assert time.monotonic() - start < 1 / 0.7 + 0.1 + 0.5
    finally:
        await limiter.aclose()


@pytest.mark.parametrize("bad", ["0", "nan", "-3", "inf", "1e308", "1e-300"])
async def test_a_corrupt_rate_is_repaired_to_the_told_rate(
    told_five: ita.RedisRateLimiter, state: _State, bad: str
) -> None:
    limiter = told_five  # told 5/s, burst 1
    await _grant(limiter)
    state._client.hset(state._key, "rate", bad)
    await _grant(limiter)
    assert limiter.rate == 5  # not slow start's 10/s, not unpaced, not stalled
    start = time.monotonic()
    for _ in range(3):
        await _grant(limiter)
    assert 2 / 5 * 0.9 <= time.monotonic() - start < 2


async def test_a_schedule_far_ahead_is_not_waited_for(
    told_five: ita.RedisRateLimiter, state: _State
) -> None:
    # E.g. a failover to a Redis whose clock is an hour behind.
    limiter = told_five  # told 5/s, burst 1
    await _grant(limiter)
    state.set(tat=state.now() + 3600)
    with anyio.fail_after(2):
        await _grant(limiter)


async def test_recovery_without_a_curve_returns_to_the_told_rate(
    told_five: ita.RedisRateLimiter, state: _State
) -> None:
    limiter = told_five  # told 5/s, burst 1
    await _grant(limiter)
    await limiter.record_throttle()
    state._client.hdel(state._key, "last_throttle")
    await limiter.record_success()  # no "arithmetic on a nil value" for every answer
    assert limiter.rate == 5
    state.set(k=float("nan"))
    await limiter.record_throttle()
    state.set(k=float("nan"))
    await limiter.record_success()
    assert limiter.rate == 5


async def test_a_cancellation_the_redis_client_swallows_still_stops_the_caller(
    redis_server: RedisServer, limit_name: str
) -> None:
    import asyncio

    limiter = ita.RedisRateLimiter(redis_server.url, limit_name, rate=5)

    async def swallows(**_: object) -> str:
        # What redis-py can do when cancelled while it reads a reply (redis/redis-py#2028).
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            return "reply"
        return "late"

    try:
        task = asyncio.ensure_future(limiter._call(swallows, [], []))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await limiter.aclose()
