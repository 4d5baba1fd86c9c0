"""A worker frozen between its lease renewal and the create never sends on a stale lease.

The renewal right before each create attempt is a fenced journal write; a process can still be
frozen (SIGSTOP, a GC pause, a suspended VM) after the journal committed it and before the
request leaves. The renewal is therefore timed on the local monotonic clock: one that came back
later than ``lease_ttl * SEND_WINDOW`` after it was issued is done again, and that second one
finds the entry taken over. These tests freeze the worker right there.
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, Lease, LeaseLostError, MemoryJournal
from ica_tapis_async.orchestrator._lease import SEND_WINDOW, Held, renew_before_send
from ica_tapis_async.simulator import Simulator

from .helpers import orchestrator
from .test_stale_lease import (
    ORDERED,
    TAKER,
    TAKER_TTL,
    TTL,
    JournalClock,
    X,
    make_journal,
    ordered_updates,
)


class LocalClock:
    """The worker's monotonic clock; a freeze moves it on."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class FreezeAfterRenewal:
    """Wraps a journal: the first renewal commits, then the worker "freezes" while another
    worker takes the chunk over (``during``) before the renewal returns."""

    def __init__(self, inner: Journal, clock: LocalClock, during: object) -> None:
        self._inner = inner
        self._clock = clock
        self._during = during
        self.renewals = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        self.renewals += 1
        renewed = await self._inner.renew(lease, ttl_s)
        if self.renewals == 1:
            await self._during()  # type: ignore[operator]
            self._clock.offset += 2 * ttl_s
        return renewed


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_worker_frozen_after_its_renewal_does_not_send(
    backend: str, tmp_path: Path
) -> None:
    journal_clock = JournalClock()
    inner = make_journal(backend, journal_clock, tmp_path)
    local = LocalClock()
    taken_over: list[ita.BatchReport] = []
    async with Simulator(seed=31, step_s=0.02) as sim:

        async def take_over() -> None:
            # The frozen worker's lease lapses; the taker (its lease_ttl short) claims it once
            # it has seen it unrenewed for that long.
            journal_clock.now += 2 * TTL
            async with ita.IcaClient(sim.ica_url, api_key="fast") as fast:
                orch = orchestrator(fast, journal=inner, run_id="frozen", **TAKER)
                taken_over.append(await orch.update(ordered_updates()))

        journal = FreezeAfterRenewal(inner, local, take_over)
        async with ita.IcaClient(sim.ica_url, api_key="slow") as slow:
            orch = orchestrator(slow, journal=journal, run_id="frozen", clock=local, **ORDERED)
            report = await orch.update(ordered_updates())
            slow_posts = slow.metrics.requests
        batches = sim.stats.batches.get("update")
        tags = sim.data(X)["details"]["tags"]["userTags"]
    await inner.aclose()
    assert [r.counts for r in taken_over] == [{"UPDATED": 2}]
    assert report.counts == {"UPDATED": 2}
    assert slow_posts == 0  # frozen after the renewal, it never wrote its create
    assert batches == 2  # one per chunk, from the worker that took over
    assert tags == []  # no late "add" after the "remove"


class RenewCounter:
    """A journal's renewal alone, each taking ``takes`` seconds of the local clock."""

    def __init__(self, clock: LocalClock, takes: float) -> None:
        self.clock = clock
        self.takes = takes
        self.calls = 0

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        self.calls += 1
        self.clock.offset += self.takes
        return attrs.evolve(lease, expires_at=lease.expires_at + ttl_s)


LEASE = Lease("r", 0, "me", 1, 0.0)


async def test_a_slow_journal_is_given_up_after_three_renewals() -> None:
    """Every renewal takes exactly the window: nothing is sent, and the failure says why."""
    clock = LocalClock()
    journal = RenewCounter(clock, 10.0 * SEND_WINDOW)
    with pytest.raises(LeaseLostError, match="3 times in a row"):
        await renew_before_send(journal, Held(LEASE), 10.0, clock)  # type: ignore[arg-type]
    assert journal.calls == 3


async def test_a_timely_renewal_is_done_once() -> None:
    """A renewal just inside the window is enough: one fenced write per attempt."""
    clock = LocalClock()
    journal = RenewCounter(clock, 10.0 * SEND_WINDOW - 0.5)
    held = Held(LEASE)
    await renew_before_send(journal, held, 10.0, clock)  # type: ignore[arg-type]
    assert journal.calls == 1
    assert held.lease.expires_at == 10.0  # the renewed lease is the one held


async def test_a_transfer_worker_frozen_after_its_renewal_does_not_create() -> None:
    """The same freeze before a Tapis create (no idempotency key at all): the worker that took
    over creates the one task; the frozen one never sends."""
    journal_clock = JournalClock()
    inner = MemoryJournal(clock=journal_clock)
    local = LocalClock()
    requests = [
        ita.TransferRequest([ita.ReqTransferElement("tapis://src/f/?files=2", "tapis://dst/f/")])
    ]
    options = {"run_id": "frozen-t", "lease_ttl": TTL, "poll_initial": 0.02, "poll_max": 0.05}
    taken_over: list[ita.TransferReport] = []
    async with Simulator(seed=32) as sim:

        async def take_over() -> None:
            journal_clock.now += 2 * TTL
            async with ita.TapisClient(sim.tapis_url, token="fast") as fast:
                taker = {**options, "lease_ttl": TAKER_TTL}
                orch = ita.TransferOrchestrator(fast, journal=inner, **taker)  # type: ignore[arg-type]
                taken_over.append(await orch.run(requests))

        journal = FreezeAfterRenewal(inner, local, take_over)
        async with ita.TapisClient(sim.tapis_url, token="slow") as slow:
            orch = ita.TransferOrchestrator(slow, journal=journal, clock=local, **options)  # type: ignore[arg-type]
            report = await orch.run(requests)
            slow_posts = slow.metrics.requests
        tasks = sim.stats.tapis_tasks
    assert [r.counts for r in taken_over] == [{"COMPLETED": 1}]
    assert report.counts == {"COMPLETED": 1}
    assert tasks == 1
    assert slow_posts == 0
