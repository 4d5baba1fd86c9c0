"""Concurrency building blocks used by the clients and the batch orchestrator, public for reuse.

Nothing here knows about HTTP; everything runs on anyio (asyncio or trio) inside task groups,
and takes an injectable clock and sleep where time matters, so tests never wait for real.

- :class:`RateLimiter`: the protocol a client's limiter satisfies (slot, record success or
  throttle, pause for a ``Retry-After``); pass your own with ``IcaClient(..., limiter=...)``.
- :class:`AdaptiveRateLimiter`: the in-process one: an in-flight cap over a
  :class:`TokenBucket`, whose rate a :class:`CubicCalculator` cuts on a throttle (from the send
  rate a :class:`RateClock` measures) and lets climb back, as botocore's adaptive retry mode.
- :class:`RedisRateLimiter`: the same budget shared by every process that names it, kept in
  Redis (the ``redis`` extra).
- :func:`fan_out` / :func:`gather_bounded`: run an async function over many inputs with at most
  ``limit`` in flight, lazily, yielding results as they finish (or in input order).
- :func:`poll_until`, :class:`PollState`, :class:`Backoff`: the polling loop, which backs off
  while nothing changes and raises :class:`WaiterError` when it gives up.

Example::

    from ica_tapis_async.concurrency import AdaptiveRateLimiter, fan_out

    limiter = AdaptiveRateLimiter(rate=10, burst=5, max_in_flight=4)

    async def get(batch_id: str) -> Batch:
        async with limiter.slot():
            return await client.data_linking_batches.get(batch_id)

    async with fan_out(get, batch_ids, limit=8) as batches:
        async for batch in batches:
            print(batch.id, batch.status)
"""

from ._concurrency import (
    AdaptiveRateLimiter,
    Backoff,
    CubicCalculator,
    PollState,
    RateClock,
    RateLimiter,
    TokenBucket,
    fan_out,
    gather_bounded,
    poll_until,
)
from ._concurrency._redis_limiter import RedisRateLimiter, SharedLimiterUnavailableError
from ._errors import WaiterError

__all__ = (
    "AdaptiveRateLimiter",
    "CubicCalculator",
    "RateClock",
    "RateLimiter",
    "TokenBucket",
    "PollState",
    "Backoff",
    "WaiterError",
    "RedisRateLimiter",
    "SharedLimiterUnavailableError",
    "fan_out",
    "gather_bounded",
    "poll_until",
)
