"""Journals kept in memory: :class:`MemoryJournal` (one process) and :class:`NullJournal`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

import attrs

from ._journal_protocol import (
    DONE,
    END_DIGEST,
    PLANNED,
    SENDING,
    SUBMITTED,
    ChunkRecord,
    Claim,
    Lease,
    LeaseLostError,
    RunRecord,
    digest_mismatch,
    past_end_mismatch,
    run_mismatch,
    shorter_mismatch,
    untrusted,
)
from ._report import ItemOutcome

__all__ = ("MemoryJournal", "NullJournal")


class MemoryJournal:
    """A :class:`Journal` in this process's memory: leases and fencing work between tasks of
    one process, nothing survives the process.

    Args:
        keep_outcomes: store chunk outcomes (``False`` keeps only the small chunk records, so
            a long run without a journal file does not grow in memory).
        clock: POSIX time source for leases.
    """

    def __init__(self, *, keep_outcomes: bool = True, clock: Callable[[], float] = time.time):
        self._keep = keep_outcomes
        self._clock = clock
        self._runs: dict[str, RunRecord] = {}
        self._chunks: dict[tuple[str, int], ChunkRecord] = {}
        self._outcomes: dict[tuple[str, int], list[ItemOutcome]] = {}
        # Per run: the end-of-input entry's index and the highest entry (claims check both).
        self._ends: dict[str, int] = {}
        self._last: dict[str, int] = {}

    async def open_run(
        self, kind: str, project_id: str, run_id: str | None, fingerprint: str
    ) -> RunRecord:
        """Create or find the run (see :meth:`Journal.open_run`)."""
        if run_id is not None:
            run = self._runs.get(run_id)
            if run is None:
                run = self._runs[run_id] = RunRecord(
                    run_id, kind, project_id, fingerprint, self._clock()
                )
            elif (run.kind, run.project_id, run.fingerprint) != (kind, project_id, fingerprint):
                raise run_mismatch(run, kind, project_id, fingerprint)
            return run
        # Runs of this kind and project that sent something, oldest first.
        used = [
            r
            for r in self._runs.values()
            if (r.kind, r.project_id) == (kind, project_id)
            and any(run == r.run_id for run, _ in self._chunks)
        ]
        for r in used:
            if r.fingerprint != fingerprint and r.finished_at is None:
                raise run_mismatch(r, kind, project_id, fingerprint)
        same = [
            r
            for r in self._runs.values()
            if (r.kind, r.project_id, r.fingerprint) == (kind, project_id, fingerprint)
        ]
        if same:
            return same[-1]
        if used:
            # A finished run with other options: a new run's new keys would send it all again.
            raise run_mismatch(used[-1], kind, project_id, fingerprint)
        new = RunRecord(uuid.uuid4().hex[:16], kind, project_id, fingerprint, self._clock())
        self._runs[new.run_id] = new
        return new

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or ``None``."""
        return self._runs.get(run_id)

    async def finish_run(self, run_id: str) -> None:
        """Set the finish time once."""
        run = self._runs.get(run_id)
        if run is not None and run.finished_at is None:
            self._runs[run_id] = attrs.evolve(run, finished_at=self._clock())

    async def claim(
        self, run_id: str, index: int, *, key: str, digest: str, owner: str, ttl_s: float
    ) -> Claim:
        """Take the lease if free, lapsed or ours."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be > 0")
        if run_id not in self._runs:
            raise ValueError(f"run {run_id!r} is not in the journal")
        now = self._clock()
        kind = self._runs[run_id].kind
        record = self._chunks.get((run_id, index))
        if record is None:
            end = self._ends.get(run_id)
            if end is not None and end < index:
                raise past_end_mismatch(run_id, kind, end)
            if digest == END_DIGEST:
                if self._last.get(run_id, -1) > index:
                    raise shorter_mismatch(run_id, kind, index)
                self._ends[run_id] = index
            self._last[run_id] = max(self._last.get(run_id, -1), index)
            record = ChunkRecord(index, key, digest, PLANNED)
        elif record.digest != digest:
            raise digest_mismatch(run_id, kind, index, record.digest, digest)
        if record.final:
            return Claim(record)
        if untrusted(record, owner, now, ttl_s):
            record = attrs.evolve(record, lease_expires_at=now + ttl_s)
            self._chunks[(run_id, index)] = record
        free = record.owner is None or (record.lease_expires_at or 0.0) <= now
        if record.owner != owner and not free:
            return Claim(record)
        token = record.lease_token if record.owner == owner and not free else record.lease_token + 1
        record = attrs.evolve(record, owner=owner, lease_token=token, lease_expires_at=now + ttl_s)
        self._chunks[(run_id, index)] = record
        return Claim(record, Lease(run_id, index, owner, token, now + ttl_s))

    def _fenced(self, lease: Lease) -> ChunkRecord:
        record = self._chunks.get((lease.run_id, lease.index))
        if (
            record is None
            or record.owner != lease.owner
            or record.lease_token != lease.token
            or record.final
        ):
            raise LeaseLostError(
                f"our lease on chunk {lease.index} of run {lease.run_id} is no longer current"
            )
        return record

    def _put(self, lease: Lease, record: ChunkRecord) -> ChunkRecord:
        self._chunks[(lease.run_id, lease.index)] = record
        return record

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Extend the lease; fenced."""
        record = self._fenced(lease)
        expires = self._clock() + ttl_s
        self._put(lease, attrs.evolve(record, lease_expires_at=expires))
        return attrs.evolve(lease, expires_at=expires)

    async def release(self, lease: Lease) -> None:
        """Give the chunk up if still ours."""
        record = self._chunks.get((lease.run_id, lease.index))
        if (
            record is not None
            and not record.final
            and (record.owner, record.lease_token) == (lease.owner, lease.token)
        ):
            self._put(lease, attrs.evolve(record, owner=None, lease_expires_at=None))

    async def mark_sending(self, lease: Lease) -> ChunkRecord:
        """Record an attempt to send; fenced."""
        record = self._fenced(lease)
        return self._put(
            lease,
            attrs.evolve(
                record,
                state=SENDING,
                attempts=record.attempts + 1,
                first_sent_at=record.first_sent_at or self._clock(),
                resubmitted=record.resubmitted or record.state in (SENDING, SUBMITTED),
            ),
        )

    async def mark_unsent(self, lease: Lease, attempt: int) -> ChunkRecord:
        """Take back attempt ``attempt`` (it never connected); fenced."""
        record = self._fenced(lease)
        if record.attempts != attempt:
            return record
        if attempt > 1:
            return self._put(lease, attrs.evolve(record, attempts=attempt - 1))
        return self._put(lease, attrs.evolve(record, attempts=0, state=PLANNED, first_sent_at=None))

    async def mark_resubmitted(self, lease: Lease) -> None:
        """Set the sticky re-sent flag; fenced."""
        self._put(lease, attrs.evolve(self._fenced(lease), resubmitted=True))

    async def mark_in_doubt(self, lease: Lease) -> None:
        """Flag the chunk's fate as unknown; fenced."""
        self._put(lease, attrs.evolve(self._fenced(lease), in_doubt=True))

    async def mark_submitted(self, lease: Lease, batch_id: str) -> None:
        """Record the batch id; fenced."""
        record = self._fenced(lease)
        self._put(lease, attrs.evolve(record, state=SUBMITTED, batch_id=batch_id, in_doubt=False))

    async def mark_done(self, lease: Lease, outcomes: Sequence[ItemOutcome]) -> None:
        """Store the outcomes (if kept) and mark the chunk done."""
        record = self._fenced(lease)
        if self._keep:
            self._outcomes[(lease.run_id, lease.index)] = [
                attrs.evolve(o, request=None, chunk=lease.index) for o in outcomes
            ]
        self._put(
            lease,
            attrs.evolve(record, state=DONE, owner=None, lease_expires_at=None, in_doubt=False),
        )

    async def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """The chunk's record, or ``None``."""
        return self._chunks.get((run_id, index))

    async def chunks(self, run_id: str) -> list[ChunkRecord]:
        """Every chunk of the run, by index."""
        return sorted(
            (r for (run, _), r in self._chunks.items() if run == run_id and r.digest != END_DIGEST),
            key=lambda r: r.index,
        )

    async def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """The stored outcomes (``[]`` when not kept or not done)."""
        return list(self._outcomes.get((run_id, index), []))

    async def aclose(self) -> None:
        """Nothing to release."""


class NullJournal(MemoryJournal):
    """The default when no journal is given: chunk records for this process only, no
    outcomes kept, nothing survives (no resume)."""

    def __init__(self) -> None:
        super().__init__(keep_outcomes=False)

    def close(self) -> None:
        """Nothing to release."""
