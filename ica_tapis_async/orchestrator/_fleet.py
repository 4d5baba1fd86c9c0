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
    ) -> tuple[float, int | None, list[ChunkRecord]]: ...

    async def outcomes_of(
        self, run_id: str, indices: Sequence[int]
    ) -> dict[int, list[ItemOutcome]]: ...

    async def renew_all(self, leases: Sequence[Lease], ttl_s: float) -> dict[int, Lease]: ...


@attrs.define
class _Waiter:
    digest: str
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
        ttl_s: the lease time; heartbeats every third of it, surveys too (see
            :meth:`interval`).
        batch: this many chunks waited for are surveyed at once, without waiting for the
            interval.
    """

    def __init__(
        self,
        journal: FleetJournal,
        run_id: str,
        owner: str,
        ttl_s: float,
        *,
        batch: int = 64,
    ) -> None:
        self.journal = journal
        self.run_id = run_id
        self.owner = owner
        self.ttl_s = ttl_s
        self._batch = batch
        self._frontier = -1
        self._stale = False
        self._workers = 1
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

    def fresh(self, index: int) -> bool:
        """Whether chunk ``index`` is past every chunk the run is known to have, so most
        likely nobody holds it: claim it at once. Not while our heartbeats are slow, nor
        after such a claim missed (others got further than we know) until the next survey
        says where the run is."""
        return index > self._frontier and self.healthy and not self._stale

    def behind(self, index: int) -> bool:
        """Whether chunk ``index`` is one the run is known to have (another worker's, most
        likely): waiting for it need not keep an in-flight slot."""
        return index <= self._frontier

    def seen(self, index: int, *, missed: bool) -> None:
        """We claimed chunk ``index``; ``missed``: another worker holds it."""
        self._frontier = max(self._frontier, index)
        if missed and not self._stale:
            self._stale = True
            self._news.set()  # learn where the run is now

    async def turn(self, index: int, digest: str) -> list[ItemOutcome] | None:
        """Wait until chunk ``index`` is worth claiming (``None``: absent, free, lapsed, ours,
        or recorded with another ``digest``, which the claim refuses) or is done (its
        outcomes). Chunks are looked at together, in one query, every survey interval."""
        if index in self._waiters:
            raise RuntimeError(f"chunk {index} is already waited for")
        waiter = _Waiter(digest)
        self._waiters[index] = waiter
        if len(self._waiters) >= self._batch:
            self._news.set()  # enough to look at: bound the chunks held in memory
        try:
            await waiter.woken.wait()
        finally:
            self._waiters.pop(index, None)
        return waiter.outcomes

    def interval(self) -> float:
        """Seconds between surveys: a third of the lease, so that a dead worker's chunks are
        found lapsed within a heartbeat; with more workers each looks less often (they all
        wait for the same chunks, and any one of them takes a lapsed chunk over), so the
        fleet's surveys per second stay the same whatever its size."""
        return self.ttl_s / 3 * max(1.0, self._workers / 4)

    async def _watch(self) -> None:
        await self._survey([])  # where the run is: chunks up to there are claimed by others
        while True:
            self._news = anyio.Event()
            with anyio.move_on_after(self.interval()):
                await self._news.wait()
                await anyio.sleep(0.05)  # the chunks registering right now come along
            if self._waiters or self._stale:
                await self._survey(sorted(self._waiters))

    async def _survey(self, indices: list[int]) -> None:
        """Wake the waiters whose chunk is done, free or lapsed (on the journal's clock, not
        ours); note where the run is and how many workers hold its chunks."""
        self.calls += 1
        now, top, records = await self.journal.survey(self.run_id, indices)
        if top is not None:
            self._frontier = max(self._frontier, top)
        self._stale = False
        found = {r.index: r for r in records}
        ready: list[int] = []
        done: list[int] = []
        owners = {self.owner}
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
            elif record.owner is not None:
                owners.add(record.owner)
        if indices:
            self._workers = len(owners)
        if done:
            self.calls += 1
            outcomes = await self.journal.outcomes_of(self.run_id, done)
            for index in done:
                self._wake(index, outcomes.get(index, []))
        if self.healthy:
            # Otherwise our own heartbeats are not getting through: claiming more would only
            # add leases we cannot keep. The chunks are looked at again next time.
            for index in ready:
                self._wake(index, None)

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
        # A renewal slower than the heartbeat interval leaves the next one too little time.
        self.healthy = anyio.current_time() - started < self.ttl_s / 3
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
