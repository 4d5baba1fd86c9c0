"""One worker's side of a shared run: wait for chunks others hold, keep its own leases.

Without this a worker polled the journal once a second for every chunk another worker held,
and every lease had a heartbeat of its own, all on one small pool: the journal's work per
chunk grew with the number of workers until heartbeats starved and leases lapsed. Here a
worker asks about every chunk it waits for, and reads the outcomes of those that finished,
in one transaction per survey interval (leases judged on the journal's clock); claims the
chunks past where the run is one at a time, backing off while its claims miss; and renews
all of its leases in one statement. While its heartbeats are slow or failing, it claims
nothing: its own leases come first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Protocol, runtime_checkable

import anyio
import attrs

from ._journal_protocol import ChunkRecord, Claim, Journal, Lease
from ._lease_watch import LeaseWatch
from ._report import ItemOutcome

__all__ = ("Fleet", "FleetJournal", "Survey", "running")

log = logging.getLogger("ica_tapis_async.orchestrator")


@runtime_checkable
class FleetJournal(Journal, Protocol):
    """A journal that answers for many chunks at once (the PostgreSQL journal)."""

    async def survey(self, run_id: str, indices: Sequence[int]) -> Survey: ...

    async def renew_all(self, leases: Sequence[Lease], ttl_s: float) -> dict[int, Lease]: ...


@attrs.define(frozen=True)
class Survey:
    """What a journal says about the chunks a worker waits for, in one transaction.

    Attributes:
        now: the journal's clock (leases are judged on it, never on ours).
        top: the run's highest chunk index, ``None`` before its first chunk.
        records: those of the chunks asked about that exist.
        outcomes: the stored outcomes of those that are done.
    """

    now: float
    top: int | None
    records: list[ChunkRecord]
    outcomes: dict[int, list[ItemOutcome]]


@attrs.define
class _Waiter:
    digest: str
    #: Woken because another worker's lease lapsed: a take-over, which (like the wait for it)
    #: takes no in-flight slot, so it is not held up by the worker's own chunks.
    lapsed: bool = False
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
        self._backoff = 0.05
        self._claiming = anyio.Lock()
        self._lapse = math.inf  # seconds from the last survey to a lease about to lapse
        self._workers = 1
        self._waiters: dict[int, _Waiter] = {}
        # Other workers' leases on the chunks we wait for, as last seen and since when.
        self._watches: dict[int, LeaseWatch] = {}
        self._holding: dict[int, _Holding] = {}
        self._news = anyio.Event()
        self._healthy = True
        self._beat_since: float | None = None

    @property
    def healthy(self) -> bool:
        """False while a heartbeat has been waiting longer than a heartbeat interval, or the
        last one failed or was that slow: nothing is claimed until one goes through quickly
        again."""
        since = self._beat_since
        slow = since is not None and anyio.current_time() - since > self.ttl_s / 3
        return self._healthy and not slow

    async def run(self) -> None:
        """Survey and heartbeat until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch)
            tg.start_soon(self._beat)

    # -- waiting ------------------------------------------------------------------------------

    async def claim(
        self,
        index: int,
        digest: str,
        claim: Callable[[], Awaitable[Claim]],
        on_wait: Callable[[], None] | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> Claim | list[ItemOutcome]:
        """Claim chunk ``index`` with ``claim()`` once that is worth it: at once if it is past
        where the run is known to be, else when a survey finds it free. Returns a granted or
        final claim, or the outcomes of a chunk a survey found done. ``on_wait`` is called
        when a wait that need not keep the caller's in-flight slot starts, ``on_ready``
        awaited before a claim after such a wait."""
        try:
            return await self._claim(index, digest, claim, on_wait, on_ready)
        finally:
            self._watches.pop(index, None)

    async def _claim(
        self,
        index: int,
        digest: str,
        claim: Callable[[], Awaitable[Claim]],
        on_wait: Callable[[], None] | None,
        on_ready: Callable[[], Awaitable[None]] | None,
    ) -> Claim | list[ItemOutcome]:
        first = True
        while True:
            if not (first and self.fresh(index)):
                if on_wait is not None and self.behind(index):
                    on_wait()
                done = await self.turn(index, digest)
                if isinstance(done, list):
                    return done
                if on_ready is not None and not done:
                    await on_ready()
            first = False
            if index <= self._frontier:
                result = await claim()
            else:
                # Past the frontier every worker goes for the same chunks: one claim at a
                # time, and none after one missed until a survey says where the run is.
                async with self._claiming:
                    if not self.fresh(index):
                        continue
                    result = await claim()
            self.seen(index, missed=not result.granted)
            if result.granted or result.record.final:
                return result
            self._watches.setdefault(index, LeaseWatch()).refused(result.record)

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
        beyond = index > self._frontier
        self._frontier = max(self._frontier, index)
        if missed and not self._stale:
            self._stale = True
            self._news.set()  # learn where the run is now
        elif beyond and not missed:
            self._backoff = 0.05

    async def turn(self, index: int, digest: str) -> list[ItemOutcome] | bool:
        """Wait until chunk ``index`` is worth claiming (``False``: absent, free, ours, or
        recorded with another ``digest``, which the claim refuses; ``True``: another worker's
        lease lapsed) or is done (its outcomes). Chunks are looked at together, in one query,
        every survey interval."""
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
        return waiter.lapsed if waiter.outcomes is None else waiter.outcomes

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
            with anyio.move_on_after(min(self.interval(), self._lapse)):
                await self._news.wait()
                # The chunks registering right now come along. After a missed claim, more
                # and more time while the misses go on: other workers claim fast enough.
                await anyio.sleep(self._backoff if self._stale else 0.05)
                if self._stale:
                    self._backoff = min(self._backoff * 2, self.interval())
            self._lapse = math.inf
            if self._waiters or self._stale:
                await self._survey(sorted(self._waiters))

    async def _survey(self, indices: list[int]) -> None:
        """Wake the waiters whose chunk is done, free or lapsed (on the journal's clock, not
        ours, and seen unrenewed for a lease time of ours); note where the run is and how many
        workers hold its chunks."""
        survey = await self.journal.survey(self.run_id, indices)
        now, top, records = survey.now, survey.top, survey.records
        # A chunk task may have stopped waiting meanwhile (cancelled: the run is stopping):
        # what the survey says about its chunk concerns nobody now.
        indices = [index for index in indices if index in self._waiters]
        if top is not None:
            self._frontier = max(self._frontier, top)
        self._stale = False
        found = {r.index: r for r in records}
        # A lease renewed less recently than a heartbeat interval ago missed a heartbeat
        # (its worker may be dead): look again the moment it may be taken over, not an
        # interval later. Live leases, renewed every third of the lease, cost no extra surveys.
        self._lapse = math.inf
        ready: list[int] = []
        done: list[int] = []
        owners = {self.owner}
        for index in indices:
            if index not in self._waiters:
                continue  # its wait ended (cancelled) while the survey ran
            record = found.get(index)
            if record is not None and record.digest != self._waiters[index].digest:
                ready.append(index)  # other input: the claim says how, and refuses it
            elif record is not None and record.final:
                done.append(index)
            elif record is None or record.owner in (None, self.owner):
                ready.append(index)
            elif record.owner is not None:
                owners.add(record.owner)
                watch = self._watches.setdefault(index, LeaseWatch())
                watch.saw(record)
                # Lapsed on the journal's clock is not enough: a forward step of that clock
                # lapses a live holder's lease at once. Taken over only once also seen
                # unrenewed for a lease time of our own clock. An expiry further ahead than
                # a lease time (set before the journal's clock stepped back) is the claim's
                # to cut, so it counts as lapsed here.
                expires = record.lease_expires_at or 0.0
                left = 0.0 if expires > now + self.ttl_s else max(expires - now, 0.0)
                unrenewed = watch.unrenewed_for()
                wait = max(left, self.ttl_s - unrenewed)
                if wait <= 0:
                    self._waiters[index].lapsed = True
                    ready.append(index)
                elif left < self.ttl_s * 2 / 3 - 0.05 or unrenewed > self.ttl_s / 3 + 0.05:
                    self._lapse = min(self._lapse, wait + 0.02)
        if indices:
            self._workers = len(owners)
        for index in done:
            self._wake(index, survey.outcomes.get(index, []))
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
            elif not self._healthy:
                # Nothing of ours left to keep: no heartbeat would ever say the journal is
                # quick again, and the worker would wait for ever. A claim is a transaction
                # of its own and finds out; the next lease brings heartbeats back.
                self._healthy = True

    async def _renew(self) -> None:
        snapshot = dict(self._holding)
        leases = [h.lease() for h in snapshot.values()]
        started = self._beat_since = anyio.current_time()
        try:
            renewed = await self.journal.renew_all(leases, self.ttl_s)
        except Exception as exc:  # the journal's own errors, after its retries
            # A slow or unreachable journal: the leases may lapse, and fenced writes will
            # say so; meanwhile claim nothing more.
            log.warning("run %s: heartbeat failed (%s); claiming paused", self.run_id, exc)
            self._healthy = False
            return
        finally:
            self._beat_since = None
        # A renewal slower than the heartbeat interval leaves the next one too little time.
        self._healthy = anyio.current_time() - started < self.ttl_s / 3
        if not self._healthy:
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
