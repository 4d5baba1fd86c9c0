"""A worker whose chunk lease was taken over while it waited never sends that chunk.

Links and updates carry no Idempotency-Key, so the server cannot dedupe a stale create: only
the lease can stop it. The lease is renewed (a fenced journal write) right before every
attempt of the create, so a worker that waited out a ``Retry-After`` (or was frozen) past its
lease finds out before its retry leaves, not after.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, MemoryJournal, SqliteJournal
from ica_tapis_async.simulator import Simulator

from ..unit.fakes import FakeClock
from .helpers import PROJECT, orchestrator

X = "fil." + "a" * 30
#: Long enough that the heartbeat (every third of it, in real time) never runs in these tests:
#: what stops the stale create must be the check before the attempt.
TTL = 60.0
#: The taking-over worker's: it claims a lease only once it has seen it unrenewed for its own
#: lease_ttl in real time (a journal clock moved forward is no proof the holder is gone).
TAKER_TTL = 0.5
#: One chunk per group. The taking-over worker finds chunk 0 sent before (its first attempt
#: was throttled, but the journal cannot know), so chunk 1 waits out an orphan's window: a
#: short one here.
ORDERED: dict[str, float] = {"batch_size": 1, "lease_ttl": TTL, "orphan_window": 0.2}
#: The same for the taking-over worker, with its short lease_ttl.
TAKER: dict[str, float] = {**ORDERED, "lease_ttl": TAKER_TTL}


class JournalClock:
    """The journal's clock, which the test moves past a lease's expiry."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_journal(backend: str, clock: JournalClock, tmp_path: Path) -> Journal:
    """A memory or SQLite journal on ``clock``."""
    if backend == "memory":
        return MemoryJournal(clock=clock)
    return SqliteJournal(tmp_path / "j.sqlite", clock=clock)


def ordered_updates() -> list[ita.DataUpdateGroup]:
    """Add a tag to X, then remove it: X must end without it (two chunks of one group each)."""
    return [
        ita.DataUpdateGroup([X], user_tags=ita.TagUpdate(add_tags=["t"])),
        ita.DataUpdateGroup([X], user_tags=ita.TagUpdate(remove_tags=["t"])),
    ]


async def spend_the_only_token(sim: Simulator, api_key: str) -> None:
    """Use up the credential's one request, so that its next request is answered 429."""
    async with aiohttp.ClientSession() as http:
        url = f"{sim.ica_url}/api/projects/{PROJECT}/dataUpdateBatch/nope"
        async with http.get(url, headers={"X-API-Key": api_key}) as answer:
            await answer.read()


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_lease_taken_over_during_retry_after_stops_the_stale_create(
    backend: str, tmp_path: Path
) -> None:
    journal_clock = JournalClock()
    journal = make_journal(backend, journal_clock, tmp_path)
    client_clock = FakeClock()
    taken_over: list[ita.BatchReport] = []
    async with Simulator(
        seed=21, step_s=0.02, rate_limit=0.1, rate_limit_burst=1, retry_after=6
    ) as sim:
        await spend_the_only_token(sim, "slow")

        async def sleep(seconds: float) -> None:
            if seconds >= 5 and not taken_over:
                # The slow worker waits out the 429's Retry-After (or is frozen): its lease
                # lapses, and another worker runs the whole job meanwhile.
                sim.configure(rate_limit=None)
                journal_clock.now += 2 * TTL
                async with ita.IcaClient(sim.ica_url, api_key="fast") as fast:
                    orch = orchestrator(fast, journal=journal, run_id="stale", **TAKER)
                    taken_over.append(await orch.update(ordered_updates()))
            await client_clock.sleep(seconds)

        retry = ita.RetryPolicy(max_attempts=5, total_timeout=None, initial_backoff=0.01)
        async with ita.IcaClient(
            sim.ica_url, api_key="slow", retry=retry, clock=client_clock, sleep=sleep
        ) as slow:
            orch = orchestrator(slow, journal=journal, run_id="stale", **ORDERED)
            report = await orch.update(ordered_updates())
            slow_posts = slow.metrics.requests
        batches = sim.stats.batches.get("update")
        tags = sim.data(X)["details"]["tags"]["userTags"]
    await journal.aclose()
    assert len(taken_over) == 1
    assert taken_over[0].counts == {"UPDATED": 2}
    # The slow worker's report is the run's, as the other worker finished it.
    assert report.counts == {"UPDATED": 2}
    assert slow_posts == 1  # its first, throttled attempt; the retry was never sent
    assert batches == 2  # one per chunk: no third, stale batch
    assert tags == []  # the later "remove" is not undone by a late "add"
    assert client_clock.sleeps.count(6.0) == 1  # it did wait out the Retry-After


class _TakeOverWhileWaiting:
    """A rate limiter that, on the slow worker's first wait for a slot, lets another worker take
    the lease over and finish the run: the wait a Retry-After or a frozen process would cause."""

    def __init__(self, take_over: Callable[[], Awaitable[None]]) -> None:
        self._inner = ita.AdaptiveRateLimiter(None)
        self._take_over: Callable[[], Awaitable[None]] | None = take_over
        self.rate = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._take_over is not None:
            take_over, self._take_over = self._take_over, None
            await take_over()
        async with self._inner.slot():
            yield

    async def record_success(self) -> None:
        await self._inner.record_success()

    async def record_throttle(self) -> None:
        await self._inner.record_throttle()

    async def pause_for(self, seconds: float) -> None:
        await self._inner.pause_for(seconds)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_transfer_lease_taken_over_while_waiting_for_a_slot_stops_the_stale_create() -> (
    None
):
    journal_clock = JournalClock()
    journal = MemoryJournal(clock=journal_clock)
    requests = [
        ita.TransferRequest([ita.ReqTransferElement("tapis://src/a/?files=2", "tapis://dst/a/")])
    ]
    async with Simulator(seed=23, step_s=0.02) as sim:

        async def take_over() -> None:
            journal_clock.now += 2 * TTL  # the slow worker's lease lapses while it waits
            async with ita.TapisClient(sim.tapis_url, token="fast") as fast:
                orch = ita.TransferOrchestrator(
                    fast, journal=journal, run_id="stale-t", lease_ttl=TAKER_TTL, poll_initial=0.02,
                    poll_max=0.05,
                )  # fmt: skip
                taken_over.append(await orch.run(requests))

        taken_over: list[ita.TransferReport] = []
        async with ita.TapisClient(
            sim.tapis_url, token="slow", limiter=_TakeOverWhileWaiting(take_over)
        ) as slow:
            orch = ita.TransferOrchestrator(
                slow, journal=journal, run_id="stale-t", lease_ttl=TTL, poll_initial=0.02,
                poll_max=0.05,
            )  # fmt: skip
            report = await orch.run(requests)
            slow_posts = slow.metrics.requests
        tasks = sim.stats.tapis_tasks
    assert [r.counts for r in taken_over] == [{"COMPLETED": 1}]
    assert report.counts == {"COMPLETED": 1}  # the run's outcome, from the worker that did it
    assert tasks == 1  # the stale worker's create never left
    assert slow_posts == 0
