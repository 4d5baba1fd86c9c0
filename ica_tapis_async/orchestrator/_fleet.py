"""One worker's side of a shared run: wait for chunks others hold, keep its own leases.

Without this a worker polled the journal once a second for every chunk another worker held,
and every lease had a heartbeat of its own, all on one small pool: the journal's work per
chunk grew with the number of workers until heartbeats starved and leases lapsed. Here a
worker asks about every chunk it waits for in one query (backing off while nothing changes,
waking when the earliest of their leases could lapse, on the journal's clock), reads the
outcomes of those that finished in one more, and renews all of its leases in one statement.
While its heartbeats are slow or failing, it hands out no claims: its own leases come first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Protocol, runtime_checkable

import anyio
import attrs

from ._journal_protocol import ChunkRecord, Journal, Lease
from ._report import ItemOutcome

__all__ = ("Fleet", "FleetJournal", "running")

log = logging.getLogger("ica_tapis_async.orchestrator")


@runtime_checkable
class FleetJournal(Journal, Protocol):
    """A journal that answers for many chunks at once (the PostgreSQL journal)."""

    async def survey(
        self, run_id: str, indices: Sequence[int]
    ) -> tuple[float, list[ChunkRecord]]: ...

    async def outcomes_of(
        self, run_id: str, indices: Sequence[int]
    ) -> dict[int, list[ItemOutcome]]: ...

    async def renew_all(self, leases: Sequence[Lease], ttl_s: float) -> dict[int, Lease]: ...


@attrs.define
class _Waiter:
    digest: str
    on_held: Callable[[], None] | None
    woken: anyio.Event = attrs.field(factory=anyio.Event)
    outcomes: list[ItemOutcome] | None = None


@attrs.define
class _Holding:
    lease: Callable[[], Lease]
    renewed: Callable[[Lease], None]
    lost: Callable[[], None]


class Fleet:
    """Waiting and heartbeats for one worker (``owner``) of one run; :meth:`run` does both
    and must run (in a task group) while the worker's chunks do.

    Args:
        journal: the shared journal.
        run_id / owner: the run and this worker.
        ttl_s: the lease time; heartbeats every third of it.
        min_wait / max_wait: the survey interval starts at ``min_wait`` after a change and
            doubles while nothing changes, up to ``max_wait`` (and never past the moment the
            earliest lease waited on could lapse).
    """

    def __init__(
        self,
        journal: FleetJournal,
        run_id: str,
        owner: str,
        ttl_s: float,
        *,
        min_wait: float = 0.02,
        max_wait: float = 1.0,
    ) -> None:
        self.journal = journal
        self.run_id = run_id
        self.owner = owner
        self.ttl_s = ttl_s
        self._min_wait = min_wait
        self._max_wait = max_wait
        self._waiters: dict[int, _Waiter] = {}
        self._holding: dict[int, _Holding] = {}
        self._news = anyio.Event()
        #: False while the last heartbeat failed or took longer than a sixth of the lease:
        #: no chunk is handed out to be claimed until one goes through quickly again.
        self.healthy = True
        #: Journal calls made by the fleet (surveys, outcome reads, heartbeats), for benchmarks.
        self.calls = 0

    async def run(self) -> None:
        """Survey and heartbeat until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch)
            tg.start_soon(self._beat)

    # -- waiting ------------------------------------------------------------------------------

    async def turn(
        self, index: int, digest: str, on_held: Callable[[], None] | None = None
    ) -> list[ItemOutcome] | None:
        """Wait until chunk ``index`` is worth claiming (``None``: absent, free, lapsed, ours,
        or recorded with another ``digest``, which the claim refuses) or is done (its
        outcomes). ``on_held`` is called once if another worker holds it meanwhile."""
        if index in self._waiters:
            raise RuntimeError(f"chunk {index} is already waited for")
        waiter = _Waiter(digest, on_held)
        self._waiters[index] = waiter
        self._news.set()
        try:
            await waiter.woken.wait()
        finally:
            self._waiters.pop(index, None)
        return waiter.outcomes

    async def _watch(self) -> None:
        wait = self._min_wait
        while True:
            if not self._waiters:
                await self._news.wait()
            self._news = anyio.Event()
            await anyio.sleep(self._min_wait)  # gather the chunks registering right now
            indices = sorted(self._waiters)
            changed, lapse = await self._survey(indices)
            wait = self._min_wait if changed else min(wait * 2, self._max_wait)
            with anyio.move_on_after(min(wait, lapse)):
                await self._news.wait()

    async def _survey(self, indices: list[int]) -> tuple[bool, float]:
        """Wake the waiters whose chunk changed; returns whether any did, and seconds until
        the earliest lease still waited on could lapse (journal clock, not ours)."""
        self.calls += 1
        now, records = await self.journal.survey(self.run_id, indices)
        found = {r.index: r for r in records}
        ready: list[int] = []
        done: list[int] = []
        lapse = math.inf
        for index in indices:
            record = found.get(index)
            if record is not None and record.digest != self._waiters[index].digest:
                ready.append(index)  # other input: the claim says how, and refuses it
            elif record is not None and record.final:
                done.append(index)
            elif (
                record is None
                or record.owner in (None, self.owner)
                or (record.lease_expires_at or 0.0) <= now
            ):
                ready.append(index)
            else:
                lapse = min(lapse, (record.lease_expires_at or 0.0) - now)
                waiter = self._waiters.get(index)
                if waiter is not None and waiter.on_held is not None:
                    waiter.on_held()
                    waiter.on_held = None
        if done:
            self.calls += 1
            outcomes = await self.journal.outcomes_of(self.run_id, done)
            for index in done:
                self._wake(index, outcomes.get(index, []))
        if not self.healthy:
            # Our own heartbeats are not getting through: claiming more would only add
            # leases we cannot keep. The chunks are looked at again shortly.
            return bool(done), self._min_wait * 4
        for index in ready:
            self._wake(index, None)
        return bool(done or ready), max(lapse, 0.0)

    def _wake(self, index: int, outcomes: list[ItemOutcome] | None) -> None:
        waiter = self._waiters.pop(index, None)
        if waiter is not None:
            waiter.outcomes = outcomes
            waiter.woken.set()

    # -- heartbeats ---------------------------------------------------------------------------

    @contextmanager
    def holding(
        self,
        index: int,
        lease: Callable[[], Lease],
        renewed: Callable[[Lease], None],
        lost: Callable[[], None],
    ) -> Iterator[None]:
        """Keep the lease ``lease()`` of chunk ``index`` renewed while in the block:
        ``renewed`` gets each renewal, ``lost`` is called if a renewal finds it lost."""
        self._holding[index] = holding = _Holding(lease, renewed, lost)
        try:
            yield
        finally:
            if self._holding.get(index) is holding:
                del self._holding[index]

    async def _beat(self) -> None:
        while True:
            await anyio.sleep(self.ttl_s / 3)
            if self._holding:
                await self._renew()

    async def _renew(self) -> None:
        snapshot = dict(self._holding)
        leases = [h.lease() for h in snapshot.values()]
        started = anyio.current_time()
        self.calls += 1
        try:
            renewed = await self.journal.renew_all(leases, self.ttl_s)
        except Exception as exc:  # the journal's own errors, after its retries
            # A slow or unreachable journal: the leases may lapse, and fenced writes will
            # say so; meanwhile claim nothing more.
            log.warning("run %s: heartbeat failed (%s); claiming paused", self.run_id, exc)
            self.healthy = False
            return
        self.healthy = anyio.current_time() - started < self.ttl_s / 6
        if not self.healthy:
            log.warning("run %s: the journal is slow; claiming paused", self.run_id)
        for lease in leases:
            holding = snapshot[lease.index]
            if self._holding.get(lease.index) is not holding:
                continue  # settled while the heartbeat ran
            new = renewed.get(lease.index)
            if new is not None and new.token == holding.lease().token:
                holding.renewed(new)
            elif new is None:
                holding.lost()


@asynccontextmanager
async def running(fleet: Fleet | None) -> AsyncIterator[None]:
    """Run ``fleet`` (if any) while in the block."""
    if fleet is None:
        yield
        return
    async with anyio.create_task_group() as tg:
        tg.start_soon(fleet.run)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()
