"""One chunk's life: claim its lease, resume or send it, poll it, record it, keep the lease."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import suppress

import anyio
import attrs

from .._errors import APIError, AuthenticationError, PaginationError
from .._telemetry import batch_known
from ._fleet import Fleet
from ._journal_protocol import SENDING, SUBMITTED, ChunkRecord, Journal, LeaseLostError
from ._lease import Held, Slot, renew_before_send, run_leased
from ._outcomes import IN_DOUBT, NOT_SUBMITTED, UNKNOWN, chunk_outcomes
from ._plan import Chunk, Kind, chunk_key
from ._poll import ItemPoller
from ._report import ItemOutcome
from ._send import Sender, SendResult

__all__ = ("ChunkWorker",)

#: Lapsed leases taken back and claimed again per chunk before it is reported unsent.
_RETAKES = 3

log = logging.getLogger("ica_tapis_async.orchestrator")


@attrs.define
class ChunkWorker:
    """Runs chunks of one run to a final (or resumable) outcome, one lease at a time.

    Attributes:
        lease_ttl: seconds a lease lasts without a heartbeat; the heartbeat renews it every
            third of that. A killed process's chunks are taken over after at most this long.
        key_lifetime: how long the server remembers an Idempotency-Key, less a margin.
        resend_in_doubt: re-send analysis chunks whose key may have been forgotten.
        wall_clock: this machine's POSIX time (when to look at a held chunk again, for a
            journal on this machine); first-sent times are judged on the journal's clock.
        on_active: called with +1 when work on a chunk starts and -1 when it stops (progress:
            chunks being sent or polled).
        fleet: waits and heartbeats shared by this worker's chunks (a journal that answers
            for many chunks at once), to be run while the chunks are.
        refused: set when the server refused the run's credentials (401): the run sends no
            further chunk.
    """

    journal: Journal
    run_id: str
    owner: str
    sender: Sender
    poller: ItemPoller
    lease_ttl: float
    key_lifetime: float
    resend_in_doubt: bool
    wall_clock: Callable[[], float] = time.time
    on_active: Callable[[int], None] | None = None
    fleet: Fleet | None = None
    refused: AuthenticationError | None = None
    #: Per chunk: the times its lease lapsed before its first attempt left (claimed again).
    _retakes: dict[int, int] = attrs.field(factory=dict, init=False)

    async def run(
        self, kind: Kind, chunk: Chunk, slot: Slot | None = None
    ) -> tuple[list[ItemOutcome], bool]:
        """The chunk's outcomes and whether they are final; waits while another worker has it
        (giving its in-flight ``slot`` back meanwhile, and taking one again to work on it)."""
        key = chunk_key(self.run_id, kind, chunk.index, chunk.digest)

        async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
            if self.on_active is not None:
                self.on_active(1)
            try:
                return await self._work(kind, chunk, key, record, held)
            finally:
                if self.on_active is not None:
                    self.on_active(-1)

        return await run_leased(
            self.journal, self.run_id, chunk.index, key=key, digest=chunk.digest,
            owner=self.owner, ttl_s=self.lease_ttl, work=work, wall_clock=self.wall_clock,
            on_wait=slot.release if slot else None, fleet=self.fleet,
            on_ready=slot.acquire if slot else None,
        )  # fmt: skip

    async def _work(
        self, kind: Kind, chunk: Chunk, key: str, record: ChunkRecord, held: Held
    ) -> tuple[list[ItemOutcome], bool]:
        resubmitted = record.resubmitted
        if record.state == SUBMITTED and record.batch_id:
            batch_id = record.batch_id
            batch_known(batch_id, resumed=True)
        else:
            if record.state == SENDING and kind == "analysis" and not self.resend_in_doubt:
                # Both times on the journal's clock (our lease, just claimed, ends lease_ttl
                # after its now): a worker whose own clock is off by an hour neither re-sends
                # a key the server forgot nor calls a fresh send old.
                now = held.lease.expires_at - self.lease_ttl
                age = now - (record.first_sent_at or math.inf)
                if age > self.key_lifetime:
                    # The server may have created the analyses and forgotten the key: a
                    # re-send would create them again.
                    await self.journal.mark_in_doubt(held.lease)
                    info = (
                        f"first sent {age / 3600:.1f} h ago with Idempotency-Key {key} and its "
                        "answer was lost; the server forgets keys after 7 days, so it may have "
                        "created these analyses: check, then run again with "
                        "resend_in_doubt=True to send them anyway"
                    )
                    return self._settled(kind, chunk, IN_DOUBT, info, True), False
            # The attempt is recorded only once the client's limiter lets it go (in
            # still_ours): a process killed while it waits for the limiter sent nothing, and a
            # later run must not take the chunk for sent (re-sent: IN_DOUBT items, an orphan's
            # wait for the next updates of its data ids).
            sending: ChunkRecord | None = None
            tries, checking = 0, False

            async def still_ours() -> None:
                # A fenced write right before each attempt: after a long wait (Retry-After, a
                # frozen process) the chunk may belong to another worker, and links and updates
                # carry no key the server could dedupe on; a renewal that came back too late
                # (frozen after the journal committed it) is done again. Raises
                # LeaseLostError: not sent.
                nonlocal sending, tries, checking
                tries += 1
                checking = True
                if sending is None:
                    sending = await self.journal.mark_sending(held.lease)
                await renew_before_send(self.journal, held, self.lease_ttl, self.sender.clock)
                checking = False

            try:
                result = await self.sender.send(
                    kind, chunk, key, first_use=record.attempts == 0, before_attempt=still_ours
                )
            except anyio.get_cancelled_exc_class():
                if tries == 1 and checking and sending is not None:
                    # Cancelled before the first attempt left (in its renewal): take the
                    # attempt back, so that a later run does not take the chunk for sent.
                    with anyio.CancelScope(shield=True), suppress(LeaseLostError):
                        await self.journal.mark_unsent(held.lease, sending.attempts)
                raise
            except LeaseLostError as exc:
                if tries > 1 or sending is None:
                    raise  # an attempt left, or the entry is another worker's: not ours to settle
                # Stopped before the first attempt: nothing left this machine, so the attempt
                # is taken back if nobody else held the entry since (else LeaseLostError).
                lapsed = await self._take_back(chunk.index, key, chunk.digest, held, sending)
                if lapsed and self._retakes.get(chunk.index, 0) < _RETAKES:
                    # Our lease lapsed while we were frozen, and nobody took the entry: it
                    # is claimed again and sent afresh, never flagged as sent twice.
                    self._retakes[chunk.index] = self._retakes.get(chunk.index, 0) + 1
                    raise
                # Still ours: the journal was only slow. Claiming the entry again would spin
                # for as long as it stays slow: the chunk is reported unsent, resumable.
                result = SendResult(
                    None, False, NOT_SUBMITTED,
                    f"not sent: {exc}; a longer lease_ttl gives a slow journal more time",
                )  # fmt: skip
            if sending is not None:
                resubmitted = sending.resubmitted
            if result.lost and not resubmitted:
                await self.journal.mark_resubmitted(held.lease)
                resubmitted = True
            if result.unsent and sending is not None:
                # Nothing was processed: a later run must not take the chunk for sent.
                await self.journal.mark_unsent(held.lease, sending.attempts)
            if result.refused is not None and self.refused is None:
                self.refused = result.refused
            if result.batch_id is None:
                status, info = result.status or UNKNOWN, result.info or ""
                if status == NOT_SUBMITTED and resubmitted:
                    # This attempt was refused, but an earlier one (a killed run's, or one
                    # whose answer was lost) may have been processed: the fate is unknown.
                    status = IN_DOUBT
                    ref = f" with Idempotency-Key {key}" if kind == "analysis" else ""
                    info = (
                        f"{info}; sent before{ref}, so the server may have it: run again with "
                        "the journal to settle it"
                    )
                if status == IN_DOUBT:
                    await self.journal.mark_in_doubt(held.lease)
                return self._settled(kind, chunk, status, info, resubmitted), result.final
            batch_id = result.batch_id
            await self.journal.mark_submitted(held.lease, batch_id)
            batch_known(batch_id)
            log.info(
                "chunk %d of run %s submitted as batch %s",
                chunk.index,
                self.run_id,
                batch_id,
                extra={
                    "run_id": self.run_id,
                    "kind": kind,
                    "chunk": chunk.index,
                    "batch_id": batch_id,
                },
            )
        try:
            return await self.poller.await_items(kind, chunk, batch_id, resubmitted=resubmitted)
        except (APIError, PaginationError) as exc:
            # Polling failed past its retries (or the batch is gone, or its answers cannot be
            # read): the items stay UNKNOWN and the chunk stays "submitted", so a re-run with
            # the journal looks again.
            info = f"polling batch {batch_id} failed: {exc}"
            outcomes = chunk_outcomes(
                kind, chunk, UNKNOWN, info, resubmitted=resubmitted, batch_id=batch_id
            )
            return outcomes, False

    async def _take_back(
        self, index: int, key: str, digest: str, held: Held, sending: ChunkRecord
    ) -> bool:
        """Take back the attempt ``sending`` recorded, which never left; whether our lease
        had lapsed (and was claimed again, nobody having held the entry in between).

        Raises:
            LeaseLostError: another worker holds (or held) the entry since: the attempt may
                look sent to it, and it is its to settle.
        """
        try:
            await self.journal.mark_unsent(held.lease, sending.attempts)
            return False
        except LeaseLostError:
            claim = await self.journal.claim(
                self.run_id, index, key=key, digest=digest, owner=self.owner,
                ttl_s=self.lease_ttl,
            )  # fmt: skip
            # Each new holder takes the next token: the next one is ours only if nobody
            # else claimed the entry since our lease lapsed.
            if claim.lease is None or claim.lease.token != held.lease.token + 1:
                raise
            held.lease = claim.lease
            await self.journal.mark_unsent(held.lease, sending.attempts)
            return True

    @staticmethod
    def _settled(
        kind: Kind, chunk: Chunk, status: str, info: str, resubmitted: bool
    ) -> list[ItemOutcome]:
        return chunk_outcomes(kind, chunk, status, info, resubmitted=resubmitted)
