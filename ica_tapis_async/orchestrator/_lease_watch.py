"""When another worker's lease may be claimed: once seen unrenewed for a lease time of ours.

A lease's expiry is a wall-clock time of the journal's clock. A forward step of that clock
lapses a live holder's lease at once, so an expiry in the past is no proof that the holder
is gone. Its heartbeat, every third of the lease time, keeps changing the lease (its expiry,
or its holder and token); a dead holder's stops. So a worker claims another worker's lease
only once it has seen the lease unchanged for ``lease_ttl`` of its own monotonic clock (and
the journal, which grants a claim only on a lapsed lease, agrees).
"""

from __future__ import annotations

import anyio

from ._journal_protocol import ChunkRecord

__all__ = ("LeaseWatch", "foreign")


def foreign(record: ChunkRecord | None, owner: str, digest: str) -> bool:
    """Whether ``record`` is (still) another worker's to work on: not done, of this very
    input (a mismatch is the claim's to refuse at once), leased to someone else."""
    return (
        record is not None
        and not record.final
        and record.digest == digest
        and record.owner is not None
        and record.owner != owner
    )


class LeaseWatch:
    """Another worker's lease on one entry as last seen (holder, token, expiry), and since
    when (the event loop's monotonic clock)."""

    def __init__(self) -> None:
        self._seen: tuple[str | None, int, float] | None = None
        self._since = 0.0

    def saw(self, record: ChunkRecord) -> None:
        """The entry as read (not as our claim left it): any change of its lease is a sign
        of life."""
        lease = _lease_of(record)
        if lease != self._seen:
            self._seen, self._since = lease, anyio.current_time()

    def refused(self, record: ChunkRecord) -> None:
        """Our claim was refused, leaving ``record``. Its own cut of an untrusted expiry
        (same holder and token, earlier end) is no sign of life; a new holder or a later end
        (a renewal) starts the watch again."""
        lease, seen = _lease_of(record), self._seen
        if seen is None or seen[:2] != lease[:2] or lease[2] > seen[2]:
            self._since = anyio.current_time()
        self._seen = lease

    def unrenewed_for(self) -> float:
        """Seconds of our monotonic clock since the lease was last seen to change."""
        return anyio.current_time() - self._since


def _lease_of(record: ChunkRecord) -> tuple[str | None, int, float]:
    return (record.owner, record.lease_token, record.lease_expires_at or 0.0)
