"""Working on one journal entry under a lease: claim, wait for others, heartbeat, settle."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

import anyio
import attrs

from ._fleet import Fleet
from ._journal_protocol import (
    END_DIGEST,
    END_KEY,
    ChunkRecord,
    Journal,
    JournalMismatchError,
    Lease,
    LeaseLostError,
)
from ._lease_watch import LeaseWatch, foreign
from ._report import ItemOutcome

__all__ = (
    "SEND_WINDOW",
    "Held",
    "LeasedWork",
    "Slot",
    "record_input_end",
    "renew_before_send",
    "run_leased",
)

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
        self._given: anyio.Semaphore = window

    def release(self) -> None:
        """Give the slot back (later calls do nothing)."""
        if self._window is not None:
            self._window.release()
            self._window = None

    async def acquire(self) -> None:
        """Take a slot again after :meth:`release`, if one is free: the entry waited for
        turned out to be ours to work on after all (does nothing while the slot is held).

        Never waits for one: the slots may be held by entries that wait for this very one
        (updates of one data id go in order), which would then wait for ever. Without a free
        slot the entry is worked on without one, as a take-over is.
        """
        if self._window is None:
            try:
                self._given.acquire_nowait()
            except anyio.WouldBlock:
                return
            self._window = self._given


#: Share of ``lease_ttl``, counted on the local monotonic clock from the moment the last
#: renewal was *issued*, within which a create may still be written. The journal counts the
#: lease from its own "now" (at or after that moment), so no other worker can hold the entry
#: before the share has passed; the rest of the lease is the margin for the last steps before
#: the bytes leave (see :func:`renew_before_send`) and for clock-rate differences.
SEND_WINDOW = 0.5
#: Renewals tried in a row, each taking too long, before the entry is given up.
_SLOW_RENEWALS = 3


def _since_boot() -> float:
    """Seconds on a clock that counts time the machine spent suspended (``CLOCK_BOOTTIME`` on
    Linux); elsewhere the monotonic clock."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


async def renew_before_send(
    journal: Journal, held: Held, ttl_s: float, clock: Callable[[], float]
) -> None:
    """Renew the lease (a fenced write) right before a create is written, and make sure the
    renewal is still fresh when this returns.

    A process frozen (SIGSTOP, a GC pause, a suspended VM) after the journal committed the
    renewal but before the request left would otherwise send on a lease another worker took
    over meanwhile. So the time since the renewal was issued is checked on the monotonic
    ``clock``, and on one that counts a suspend, after it returns; past ``ttl_s * SEND_WINDOW``
    the renewal is done again (it fails with :class:`LeaseLostError` when the entry was taken
    over). What is left is a pause
    between this check and the write itself (connection set-up, the socket write): shorter
    than ``ttl_s * (1 - SEND_WINDOW)`` it is harmless, a longer one is not detectable by a
    client.

    Raises:
        LeaseLostError: the entry belongs to another worker now, or the journal took longer
            than the window for ``_SLOW_RENEWALS`` renewals in a row (then nothing is sent:
            the callers take the attempt back and report the entry unsent, resumable, when it
            is still theirs, and leave it to its new holder when it is not).
    """
    for _ in range(_SLOW_RENEWALS):
        issued, booted = clock(), _since_boot()
        held.lease = await journal.renew(held.lease, ttl_s)
        # The monotonic clock stands still while the machine is suspended (laptop sleep, a
        # suspended VM) but the journal's leases run on: the time since boot counts it.
        if max(clock() - issued, _since_boot() - booted) < ttl_s * SEND_WINDOW:
            return
        log.warning(
            "renewing entry %d of run %s took longer than %.1f s: renewing again before sending",
            held.lease.index,
            held.lease.run_id,
            ttl_s * SEND_WINDOW,
        )
    raise LeaseLostError(
        f"the journal took longer than {ttl_s * SEND_WINDOW:.1f} s to renew the lease on entry "
        f"{held.lease.index} {_SLOW_RENEWALS} times in a row; not sending on a stale lease"
    )


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
    fleet: Fleet | None = None,
    on_ready: Callable[[], Awaitable[None]] | None = None,
) -> tuple[list[ItemOutcome], bool]:
    """Run ``work`` on entry ``index`` once this worker holds its lease.

    A done entry returns its stored outcomes without work. While another worker holds it, the
    journal is looked at again when that lease would lapse (or sooner: it may finish);
    ``on_wait`` is called when that waiting starts (the caller frees its in-flight slot, so
    that it works on other entries meanwhile). If our lease is lost midway (the heartbeat or a
    fenced write says so), the work stops and the entry is claimed again, so its outcome comes
    from whoever finishes it. With a ``fleet`` the entry is claimed only when the fleet's
    survey finds it worth claiming (``on_wait`` is then called each time the waiting starts,
    and ``on_ready`` awaited before the claim), and its lease is renewed with the worker's
    others.

    Another worker's lease is claimed only once this worker has seen it unrenewed for
    ``ttl_s`` of its own monotonic time (see :mod:`._lease_watch`; the fleet's survey keeps
    the same watch): a forward step of the journal's clock lapses a live holder's lease at
    once.
    """

    def waiting() -> None:
        nonlocal on_wait
        if on_wait is not None:
            on_wait()
            on_wait = None

    watch = LeaseWatch()
    while True:
        if fleet is not None:
            # Waits for a change, with the worker's other waits, instead of claiming again
            # and again; claims past where the run is, one at a time.
            got = await fleet.claim(
                index,
                digest,
                lambda: journal.claim(
                    run_id, index, key=key, digest=digest, owner=owner, ttl_s=ttl_s
                ),
                on_wait,
                on_ready,
            )
            if isinstance(got, list):
                return got, True
            claim = got
        else:
            record = await journal.get_chunk(run_id, index)
            if foreign(record, owner, digest):
                assert record is not None
                watch.saw(record)
                if watch.unrenewed_for() < ttl_s:
                    waiting()
                    await anyio.sleep(min(ttl_s / 4, 1.0))
                    continue
            claim = await journal.claim(
                run_id, index, key=key, digest=digest, owner=owner, ttl_s=ttl_s
            )
        if claim.record.final:
            return await journal.outcomes(run_id, index), True
        if claim.lease is None:
            waiting()
            watch.refused(claim.record)
            # Real time: the lease clock is the journal's, not a test's fake one.
            left = (claim.record.lease_expires_at or 0.0) - wall_clock()
            if left <= 0:
                # The journal says the lease is live, our clock says it lapsed: our clock is
                # ahead of the journal's (a shared journal on another machine). Looking again
                # sooner would not make it lapse sooner: poll as with a live lease.
                left = math.inf
            await anyio.sleep(min(max(left, 0.05), ttl_s / 4, 1.0))
            continue
        try:
            return await _hold(journal, claim.record, claim.lease, ttl_s, work, fleet)
        except LeaseLostError as exc:
            log.warning("lost entry %d of run %s: %s", index, run_id, exc)


async def record_input_end(
    journal: Journal,
    run_id: str,
    count: int,
    owner: str,
    ttl_s: float,
    fingerprint: str | None = None,
) -> None:
    """Record that the run's input ends after ``count`` entries (see the journal's "end of
    input"); an input of another length meets :class:`JournalMismatchError` here or at its
    extra entries. With the whole input's ``fingerprint`` (kept in the record's key), an
    input of the same length but other content is refused here too, when the record has one.

    Raises:
        JournalMismatchError: the run's input has more entries than ``count``, or ended before,
            or (both fingerprinted) is other input.
    """
    key = END_KEY if fingerprint is None else f"{END_KEY}:{fingerprint}"
    claim = await journal.claim(run_id, count, key=key, digest=END_DIGEST, owner=owner, ttl_s=ttl_s)
    recorded = claim.record.key
    if fingerprint is not None and recorded not in (key, END_KEY):
        if claim.lease is not None:
            await journal.release(claim.lease)
        raise JournalMismatchError(
            f"run {run_id!r} was recorded with other input (other items or order, as many "
            "chunks); resume with the same input, or start a new run with another run_id",
            field="journal",
        )
    # Not granted: done already, or another worker is recording the same end right now.
    if claim.lease is not None:
        await journal.mark_done(claim.lease, [])


async def _hold(
    journal: Journal,
    record: ChunkRecord,
    lease: Lease,
    ttl_s: float,
    work: LeasedWork,
    fleet: Fleet | None = None,
) -> tuple[list[ItemOutcome], bool]:
    held = Held(lease)
    result: tuple[list[ItemOutcome], bool] | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_heartbeat, journal, held, ttl_s, tg.cancel_scope, fleet)
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
            await _release_on_the_way_out(journal, held.lease, ttl_s)
        raise
    if held.lost or result is None:
        raise LeaseLostError(f"the lease on entry {lease.index} lapsed while working on it")
    return result


async def _release_on_the_way_out(journal: Journal, lease: Lease, ttl_s: float) -> None:
    """Best effort, for a worker already stopping: bounded in time, and never an error in
    place of the one (or the cancellation) that stops it. A journal that is away would keep
    a Ctrl-C waiting through every retry, then replace it; the lease lapses by itself."""
    try:
        with anyio.move_on_after(min(ttl_s / 3, 5.0)) as scope:
            await journal.release(lease)
    except Exception as exc:  # whatever the journal raised, the caller's error wins
        log.warning(
            "entry %d of run %s not released (%s: %s); its lease lapses in %g s",
            lease.index, lease.run_id, type(exc).__name__, exc, ttl_s,
        )  # fmt: skip
        return
    if scope.cancelled_caught:
        log.warning(
            "entry %d of run %s not released (the journal did not answer); its lease lapses "
            "in %g s", lease.index, lease.run_id, ttl_s,
        )  # fmt: skip


async def _heartbeat(
    journal: Journal, held: Held, ttl_s: float, scope: anyio.CancelScope, fleet: Fleet | None
) -> None:
    if fleet is not None:
        await _fleet_heartbeat(fleet, held, scope)
        return
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


async def _fleet_heartbeat(fleet: Fleet, held: Held, scope: anyio.CancelScope) -> None:
    """The fleet renews ``held`` with the worker's other leases, in one statement."""

    def renewed(lease: Lease) -> None:
        held.lease = lease

    def lost() -> None:
        if not held.settling:  # as in _heartbeat
            held.lost = True
            scope.cancel()

    with fleet.holding(held.lease.index, lambda: held.lease, renewed, lost):
        await anyio.sleep_forever()
