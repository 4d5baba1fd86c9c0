"""Working on one journal entry under a lease: claim, wait for others, heartbeat, settle."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
import attrs

from ._journal_protocol import END_DIGEST, END_KEY, ChunkRecord, Journal, Lease, LeaseLostError
from ._report import ItemOutcome

__all__ = ("Held", "LeasedWork", "Slot", "record_input_end", "run_leased")

log = logging.getLogger("ica_tapis_async.orchestrator")


@attrs.define
class Held:
    """The lease a worker holds, kept fresh by the heartbeat (always write with ``lease``)."""

    lease: Lease
    lost: bool = False
    #: The work is over and its end is being recorded: a renewal failing now only says that
    #: the end was recorded first (the recording's own fenced write tells a real loss).
    settling: bool = False


class Slot:
    """One acquired slot of an in-flight window, given back once: when the entry turns out to
    be held by another worker (waiting for it takes no slot, so the window moves on to free
    entries; the waiters are at most the entries other workers hold), else when it is done."""

    def __init__(self, window: anyio.Semaphore) -> None:
        self._window: anyio.Semaphore | None = window

    def release(self) -> None:
        """Give the slot back (later calls do nothing)."""
        if self._window is not None:
            self._window.release()
            self._window = None


#: The work done under a lease: given the record as claimed, returns the outcomes and whether
#: they are final (then the entry is marked done; otherwise it is released, resumable).
LeasedWork = Callable[[ChunkRecord, Held], Awaitable[tuple[list[ItemOutcome], bool]]]


async def run_leased(
    journal: Journal,
    run_id: str,
    index: int,
    *,
    key: str,
    digest: str,
    owner: str,
    ttl_s: float,
    work: LeasedWork,
    wall_clock: Callable[[], float] = time.time,
    on_wait: Callable[[], None] | None = None,
) -> tuple[list[ItemOutcome], bool]:
    """Run ``work`` on entry ``index`` once this worker holds its lease.

    A done entry returns its stored outcomes without work. While another worker holds it, the
    journal is looked at again when that lease would lapse (or sooner: it may finish);
    ``on_wait`` is called when that waiting starts (the caller frees its in-flight slot, so
    that it works on other entries meanwhile). If our lease is lost midway (the heartbeat or a
    fenced write says so), the work stops and the entry is claimed again, so its outcome comes
    from whoever finishes it.

    Another worker's lease is claimed only once this worker has seen it unrenewed for
    ``ttl_s`` of its own monotonic time: expiries are wall-clock times, and a forward step of
    the journal's clock lapses a live holder's lease at once (its heartbeat, every third of
    ``ttl_s``, keeps changing it; a dead one's stops).
    """
    # Another worker's lease as last seen (owner, token, expiry), and since when (monotonic).
    seen: tuple[str | None, int, float] | None = None
    since = 0.0
    while True:
        record = await journal.get_chunk(run_id, index)
        if _foreign(record, owner, digest):
            assert record is not None
            lease = (record.owner, record.lease_token, record.lease_expires_at or 0.0)
            if lease != seen:
                seen, since = lease, anyio.current_time()
            if anyio.current_time() - since < ttl_s:
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                await anyio.sleep(min(ttl_s / 4, 1.0))
                continue
        claim = await journal.claim(run_id, index, key=key, digest=digest, owner=owner, ttl_s=ttl_s)
        if claim.record.final:
            return await journal.outcomes(run_id, index), True
        if claim.lease is None:
            if on_wait is not None:
                on_wait()
                on_wait = None
            record = claim.record
            lease = (record.owner, record.lease_token, record.lease_expires_at or 0.0)
            # Our own claim's cut of an untrusted expiry (same holder, earlier end) is no sign
            # of life; a new holder or a later end (a renewal) starts the watch again.
            if seen is None or seen[:2] != lease[:2] or lease[2] > seen[2]:
                since = anyio.current_time()
            seen = lease
            # Real time: the lease clock is the journal's, not a test's fake one.
            expires = claim.record.lease_expires_at or 0.0
            await anyio.sleep(min(max(expires - wall_clock(), 0.05), ttl_s / 4, 1.0))
            continue
        try:
            return await _hold(journal, claim.record, claim.lease, ttl_s, work)
        except LeaseLostError as exc:
            log.warning("lost entry %d of run %s: %s", index, run_id, exc)


def _foreign(record: ChunkRecord | None, owner: str, digest: str) -> bool:
    """Whether ``record`` is (still) another worker's to work on: not done, of this very
    input (a mismatch is the claim's to refuse at once), leased to someone else."""
    return (
        record is not None
        and not record.final
        and record.digest == digest
        and record.owner is not None
        and record.owner != owner
    )


async def record_input_end(
    journal: Journal, run_id: str, count: int, owner: str, ttl_s: float
) -> None:
    """Record that the run's input ends after ``count`` entries (see the journal's "end of
    input"); an input of another length meets :class:`JournalMismatchError` here or at its
    extra entries.

    Raises:
        JournalMismatchError: the run's input has more entries than ``count``, or ended before.
    """
    claim = await journal.claim(
        run_id, count, key=END_KEY, digest=END_DIGEST, owner=owner, ttl_s=ttl_s
    )
    # Not granted: done already, or another worker is recording the same end right now.
    if claim.lease is not None:
        await journal.mark_done(claim.lease, [])


async def _hold(
    journal: Journal, record: ChunkRecord, lease: Lease, ttl_s: float, work: LeasedWork
) -> tuple[list[ItemOutcome], bool]:
    held = Held(lease)
    result: tuple[list[ItemOutcome], bool] | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_heartbeat, journal, held, ttl_s, tg.cancel_scope)
            try:
                result = await work(record, held)
                held.settling = True
                if result[1]:
                    await journal.mark_done(held.lease, result[0])  # fenced
                else:
                    await journal.release(held.lease)
                    # A release is not fenced (a stale one changes nothing): whether the lease
                    # was still ours is read back. Another worker's token, or an entry done
                    # meanwhile, means that its outcome is the one that counts.
                    now = await journal.get_chunk(lease.run_id, lease.index)
                    if now is None or now.final or now.lease_token != held.lease.token:
                        raise LeaseLostError(f"entry {lease.index} was taken over")
            except LeaseLostError:
                held.lost = True
            tg.cancel_scope.cancel()
    except BaseException:
        # Stopped by an error or a cancellation: free the entry at once so that a re-run
        # need not wait for the lease to lapse (a stale release changes nothing).
        with anyio.CancelScope(shield=True):
            await journal.release(held.lease)
        raise
    if held.lost or result is None:
        raise LeaseLostError(f"the lease on entry {lease.index} lapsed while working on it")
    return result


async def _heartbeat(journal: Journal, held: Held, ttl_s: float, scope: anyio.CancelScope) -> None:
    while True:
        await anyio.sleep(ttl_s / 3)
        try:
            held.lease = await journal.renew(held.lease, ttl_s)
        except LeaseLostError:
            if not held.settling:
                # Someone else owns the entry now: stop working on it at once.
                held.lost = True
                scope.cancel()
            return
