"""What RedisRateLimiter hands its scripts for rate discovery, without a Redis server.

The discovery itself (slow start, measured cuts, the recovery curve) runs in Lua on Redis's
clock and is tested against a real server in ``tests/scaleout/test_rate_discovery.py``; these
tests pin the Python side: the slow-start rate, the burst a cut needs, the ceiling in stats.
"""

from __future__ import annotations

from typing import Any

import pytest

import ica_tapis_async as ita

pytest.importorskip("redis")  # the limiter needs the extra


class _Script:
    """A registered script that records its calls and answers with ``reply``."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.calls: list[list[Any]] = []

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        self.calls.append(args)
        return self.reply


def _limiter(**kwargs: Any) -> tuple[ita.RedisRateLimiter, _Script, _Script]:
    limiter = ita.RedisRateLimiter("redis://127.0.0.1:1/0", "n", rate=None, **kwargs)
    acquire = _Script([1, b"1000.000000", b"10.000000", b"0", 0])
    throttle = _Script([1, b"5.000000"])
    limiter._acquire = acquire
    limiter._throttle = throttle
    return limiter, acquire, throttle


@pytest.mark.parametrize(
    ("kwargs", "start"),
    [({"burst": 5}, 10.0), ({"burst": 40}, 40.0), ({"burst": 1, "min_rate": 15}, 15.0)],
)
async def test_slow_start_begins_at_ten_a_second_or_more(
    kwargs: dict[str, Any], start: float
) -> None:
    limiter, acquire, _ = _limiter(**kwargs)
    async with limiter.slot():
        pass
    assert acquire.calls[0][6] == start
    assert limiter.rate == 10.0  # what the script answered
    await limiter.aclose()


async def test_a_throttle_tells_the_script_the_grant_time_floor_and_burst() -> None:
    limiter, _, throttle = _limiter(burst=7, min_rate=0.25)
    async with limiter.slot():
        pass
    await limiter.record_throttle()
    # The burst bounds the grants that may follow the cut at once.
    assert throttle.calls == [["1000.000000", 0.25, 7]]
    assert limiter.rate == 5.0
    await limiter.aclose()


async def test_stats_report_the_ceiling_the_last_event_found() -> None:
    limiter, _, _ = _limiter()

    class _Redis:
        async def hgetall(self, key: str) -> dict[bytes, bytes]:
            return {b"rate": b"49.000000", b"w_max": b"50.000000", b"throttles": b"3"}

        async def time(self) -> tuple[int, int]:
            return (1000, 0)

        async def zcount(self, key: str, low: float, high: str) -> int:
            return 2

    real = limiter._redis
    limiter._redis = _Redis()
    stats = await limiter.stats()
    assert stats["ceiling"] == 50.0
    assert stats["rate"] == 49.0
    assert stats["throttles"] == 3
    limiter._redis = real
    await limiter.aclose()
