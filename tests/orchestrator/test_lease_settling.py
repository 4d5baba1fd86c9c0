"""A heartbeat renewal that ends after the work's end was recorded is no lost lease.

Journal writes run to their end once started (the PostgreSQL journal finishes a transaction
even when its caller is cancelled), so a renewal in flight when the work finishes may reach
the journal after ``mark_done`` and find the lease gone: that says only that the end came
first, not that another worker took the entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import anyio
import pytest

from ica_tapis_async.orchestrator import Lease, MemoryJournal
from ica_tapis_async.orchestrator._lease import Held, run_leased
from ica_tapis_async.orchestrator._report import ItemOutcome


class RenewalLandsLast(MemoryJournal):
    """A journal whose renewals, once started, finish only after the entry is marked done."""

    def __init__(self) -> None:
        super().__init__()
        self.renewing = anyio.Event()
        self.done = anyio.Event()
        self.renewals_refused = 0

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        with anyio.CancelScope(shield=True):
            self.renewing.set()
            await self.done.wait()
            try:
                renewed = await super().renew(lease, ttl_s)
            except Exception:
                self.renewals_refused += 1
                raise
        return renewed

    async def mark_done(self, lease: Lease, outcomes: Sequence[ItemOutcome]) -> None:
        await super().mark_done(lease, outcomes)
        self.done.set()


async def test_a_renewal_refused_after_the_end_was_recorded_loses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = RenewalLandsLast()
    await journal.open_run("link", "p", "r", "f")
    works = 0

    async def work(record: object, held: Held) -> tuple[list[ItemOutcome], bool]:
        nonlocal works
        works += 1
        await journal.renewing.wait()  # the heartbeat's renewal is under way
        return [], True

    with anyio.fail_after(5):
        outcomes, final = await run_leased(
            journal, "r", 0, key="k", digest="d", owner="me", ttl_s=0.03, work=work
        )
    assert (outcomes, final) == ([], True)
    assert works == 1
    assert journal.renewals_refused == 1  # the race really happened
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


class TakenOverWhileReleasing(MemoryJournal):
    """Worker "a" is frozen while releasing past its lease; "b" claims the entry meanwhile."""

    def __init__(self) -> None:
        self.offset = 0.0
        super().__init__(clock=lambda: time.time() + self.offset)

    async def release(self, lease: Lease) -> None:
        if lease.owner == "a":
            self.offset += 120.0  # a's lease lapsed
            taken = await self.claim(lease.run_id, lease.index, key="k", digest="d", owner="b",
                                     ttl_s=60)  # fmt: skip
            assert taken.lease is not None
        await super().release(lease)


async def test_a_lease_lost_while_releasing_is_noticed() -> None:
    # a's release of its non-final outcome changes nothing (b holds the entry now): a must not
    # report its own outcome for an entry b works on; it waits for b's.
    journal = TakenOverWhileReleasing()
    await journal.open_run("link", "p", "r", "f")

    async def work(record: object, held: Held) -> tuple[list[ItemOutcome], bool]:
        return [], False

    with anyio.move_on_after(1) as waiting:
        await run_leased(journal, "r", 0, key="k", digest="d", owner="a", ttl_s=60, work=work)
    assert waiting.cancelled_caught  # still waiting for b, not returning its own outcome
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert record.owner == "b"
