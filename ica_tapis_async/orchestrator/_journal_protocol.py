"""The ``Journal`` protocol: what a backend must store so that runs are exactly once.

A journal keeps, per run, one record per chunk (batch) and, once the chunk is final, one
:class:`~ica_tapis_async.orchestrator.ItemOutcome` per input item. Several processes (or
machines, for a shared database) may work on one run at once: a chunk is worked on only by
the holder of its **lease**, and every write about a chunk is **fenced** by the lease token,
so a process whose expired lease another worker claimed (it was paused, partitioned, killed)
can no longer change it.

Backends: :class:`SqliteJournal` (one file, processes on one machine), a PostgreSQL journal
(many machines), :class:`NullJournal` (nothing kept, one process). A new backend is checked
with the conformance suite in ``tests/orchestrator/journal_contract.py``.

Vocabulary
----------
run
    ``run_id`` (1-64 printable ASCII characters), a ``kind`` (``link``, ``update``,
    ``analysis``, ``transfer``), a ``project_id`` (``""`` for transfers) and a
    ``fingerprint``: a string the orchestrator derives from the options that shape the
    chunks (``batch_size=1000``); journals compare it whole and quote it in their refusals.
    Chunk contents (repeated items included) are checked separately, by digest.
chunk state
    ``planned`` -> ``sending`` -> ``submitted`` -> ``done``. ``sending`` means "a create may
    have reached the server" (set *before* each POST); ``submitted`` means the server's batch
    (or task) id is known; ``done`` is **final**: the outcomes are stored and the chunk is never
    sent or polled again. Every other state is resumable. ``planned`` exists only between a
    claim and the first send.
lease
    ``(owner, token, expires_at)``. ``owner`` names a worker (process + random suffix);
    ``token`` is a fencing token: an integer that strictly increases every time the chunk
    changes hands (a claim by a new owner, or a re-claim after expiry), never reused;
    ``expires_at`` is wall-clock POSIX seconds by the *journal's* clock (for a database, the
    database's ``now()``), so that workers with skewed clocks agree.
first sent
    ``first_sent_at``: POSIX seconds of the first ``mark_sending`` of the chunk, never changed
    afterwards. With the server keeping Idempotency-Keys for a limited time, a chunk whose
    answer was lost longer ago than that must not be re-sent silently.
flags
    ``resubmitted``: the chunk's create was (or may have been) sent more than once: a lost
    answer was seen (500, 502, 504, connection error) or a resumed ``sending`` chunk was sent
    again. Sticky: once set it stays set. ``in_doubt``: the chunk's fate on the server is
    unknown and the orchestrator decided not to re-send it (its key is older than the server
    remembers, or a 409 never cleared); cleared by the next successful ``mark_submitted``.

end of input
    When a worker has read its whole input of ``n`` chunks it claims entry ``n`` with the
    reserved digest :data:`END_DIGEST` and marks it done at once (no outcomes). A longer
    input's chunk ``n`` (or any chunk past ``n``) and a shorter input's end below an existing
    chunk then meet a :class:`JournalMismatchError`, so input that differs from the run's by
    whole chunks is refused like input that differs within a chunk. The entry is not a chunk:
    :meth:`Journal.chunks` leaves it out.

Errors
------
Every method raises :class:`JournalMismatchError` for a run or chunk recorded with other
input, and :class:`LeaseLostError` for a fenced write with a lease that is not the current
one. Backends raise nothing else for the cases described here; storage failures propagate
as the backend's own exceptions, and a failed call leaves the journal as it was (each
method is one transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, Protocol, runtime_checkable

import attrs

from .._errors import IcaTapisError, RequestValidationError
from ._report import ItemOutcome

__all__ = (
    "DONE",
    "END_DIGEST",
    "END_KEY",
    "PLANNED",
    "SENDING",
    "SUBMITTED",
    "ChunkRecord",
    "ChunkState",
    "Claim",
    "Journal",
    "JournalMismatchError",
    "Lease",
    "LeaseLostError",
    "RunRecord",
    "digest_mismatch",
    "past_end_mismatch",
    "run_mismatch",
    "shorter_mismatch",
    "untrusted",
)

ChunkState = Literal["planned", "sending", "submitted", "done"]
PLANNED: Final = "planned"
SENDING: Final = "sending"
SUBMITTED: Final = "submitted"
DONE: Final = "done"
#: The end-of-input entry's key and digest (a chunk's digest is 64 hex digits: no clash).
END_KEY: Final = "ita:end-of-input"
END_DIGEST: Final = "end-of-input"


class JournalMismatchError(RequestValidationError):
    """The journal holds this run or chunk with other input (other items, order, batch size,
    kind or project): resume with the same input, or use another run id or journal."""


def run_mismatch(
    record: RunRecord, kind: str, project_id: str, fingerprint: str, *, where: str = ""
) -> JournalMismatchError:
    """The refusal to open ``record`` (or a new run beside it) as a ``kind`` run of
    ``project_id`` with ``fingerprint``: the run is named, with what it was recorded with and
    how to start a new run deliberately. ``where`` names the journal (`` in run.sqlite``)."""
    if (record.kind, record.project_id) != (kind, project_id):
        return JournalMismatchError(
            f"the journal{where} holds run {record.run_id!r} as a {record.kind} run of project "
            f"{record.project_id!r}, not a {kind} run of project {project_id!r}: pass another "
            "run_id",
            field="run_id",
        )
    state, verb = (
        ("finished", "replay") if record.finished_at is not None else ("unfinished", "resume")
    )
    return JournalMismatchError(
        f"the journal{where} holds {state} {kind} run {record.run_id!r} of this project, "
        f"recorded with {record.fingerprint}; this call has {fingerprint}: pass "
        f"{record.fingerprint} to {verb} it, or another run_id to start a new run "
        "deliberately (its chunks get new keys and would be sent again)",
        field="run_id",
    )


def untrusted(record: ChunkRecord, claimer: str, now: float, ttl_s: float) -> bool:
    """Whether another worker's lease on ``record`` ends further ahead than ``ttl_s`` from
    ``now``: no heartbeat sets that, so it was written before the journal's clock stepped
    back. A claim then cuts the expiry to ``now + ttl_s`` (and does not take the chunk): a
    live holder renews within that as usual, a dead one's chunk is taken over ``ttl_s``
    later, not the size of the step later."""
    expires = record.lease_expires_at
    return (
        record.owner is not None
        and record.owner != claimer
        and expires is not None
        and expires > now + ttl_s
    )


def _entries(kind: str, count: int) -> str:
    noun = "transfer request" if kind == "transfer" else "chunk"
    return f"{count} {noun}" + ("" if count == 1 else "s")


def digest_mismatch(
    run_id: str, kind: str, index: int, recorded: str, given: str
) -> JournalMismatchError:
    """The refusal of a claim on entry ``index`` whose ``given`` digest is not the
    ``recorded`` one (other input, or an input that is longer or shorter than the run's)."""
    if recorded == END_DIGEST:
        return past_end_mismatch(run_id, kind, index)
    if given == END_DIGEST:
        return shorter_mismatch(run_id, kind, index)
    return JournalMismatchError(
        f"chunk {index} of run {run_id} was recorded with other input (other items, order or "
        "batch_size); resume with the same input, or start a new run with a new journal or "
        "another run_id",
        field="journal",
    )


def past_end_mismatch(run_id: str, kind: str, end: int) -> JournalMismatchError:
    """The refusal of an entry past the run's recorded end of input (at ``end``)."""
    return JournalMismatchError(
        f"the input of run {run_id!r} ended after {_entries(kind, end)}; this input has more: "
        "resume with the same input, or start a new run with another run_id",
        field="journal",
    )


def shorter_mismatch(run_id: str, kind: str, end: int) -> JournalMismatchError:
    """The refusal of an end of input at ``end`` below entries the run already has."""
    return JournalMismatchError(
        f"the input of run {run_id!r} has more than {_entries(kind, end)}; this input ends "
        f"after {end}: resume with the same input, or start a new run with another run_id",
        field="journal",
    )


class LeaseLostError(IcaTapisError):
    """A fenced write came with a lease that is no longer the chunk's current one (it expired
    and another worker claimed the chunk, or the chunk was released)."""


@attrs.define(frozen=True)
class RunRecord:
    """A run as the journal knows it.

    Attributes:
        run_id: the run's id.
        kind: ``link``, ``update``, ``analysis`` or ``transfer``.
        project_id: the project (``""`` for transfers).
        fingerprint: the orchestrator's digest of the chunk-shaping options.
        started_at: POSIX seconds when the run was first opened.
        finished_at: POSIX seconds when every chunk was done, else ``None``.
    """

    run_id: str
    kind: str
    project_id: str
    fingerprint: str
    started_at: float
    finished_at: float | None = None


@attrs.define(frozen=True)
class ChunkRecord:
    """What the journal knows about one chunk.

    Attributes:
        index: the chunk's position in the run (0-based, dense).
        key: the chunk's idempotency key (or Tapis tag), fixed at the first claim.
        digest: hash of the chunk's body, fixed at the first claim.
        state: ``planned``, ``sending``, ``submitted`` or ``done`` (final).
        batch_id: the server's batch or task id, once known.
        attempts: how many times ``mark_sending`` was called (POSTs that may have been sent).
        first_sent_at: POSIX seconds of the first ``mark_sending``, ``None`` before.
        resubmitted: the create may have reached the server more than once (sticky).
        in_doubt: the chunk's fate is unknown and it was deliberately not re-sent.
        owner: the current lease holder, ``None`` when nobody holds it.
        lease_token: the last fencing token handed out (0 before the first claim).
        lease_expires_at: when the current lease ends (journal clock), ``None`` if unleased.
    """

    index: int
    key: str
    digest: str
    state: ChunkState
    batch_id: str | None = None
    attempts: int = 0
    first_sent_at: float | None = None
    resubmitted: bool = False
    in_doubt: bool = False
    owner: str | None = None
    lease_token: int = 0
    lease_expires_at: float | None = None

    @property
    def final(self) -> bool:
        """Whether the chunk is done: outcomes stored, never sent or polled again."""
        return self.state == DONE


@attrs.define(frozen=True)
class Lease:
    """The right to work on one chunk until ``expires_at`` (journal clock).

    Attributes:
        run_id / index: the chunk.
        owner: who holds it.
        token: the fencing token; every fenced write carries the whole lease.
        expires_at: POSIX seconds (journal clock) when the lease lapses unless renewed.
    """

    run_id: str
    index: int
    owner: str
    token: int
    expires_at: float


@attrs.define(frozen=True)
class Claim:
    """The answer to :meth:`Journal.claim`.

    Exactly one of three cases:

    * ``lease`` set: the caller now holds the chunk; ``record`` is its state *after* the claim
      (a fresh chunk is ``planned``; a resumed one keeps its state, batch id, attempts, first
      sent time and flags).
    * ``lease`` is ``None`` and ``record.final``: the chunk is done; read its outcomes.
    * ``lease`` is ``None``, not final: another owner holds an unexpired lease;
      ``record.owner`` and ``record.lease_expires_at`` say who and until when. Try again later
      (the orchestrator polls the journal until the chunk is done or the lease lapses).
    """

    record: ChunkRecord
    lease: Lease | None = None

    @property
    def granted(self) -> bool:
        """Whether the caller holds the chunk."""
        return self.lease is not None


@runtime_checkable
class Journal(Protocol):
    """Durable, shared storage of run progress. Every method is one atomic transaction.

    All methods are coroutines: a backend must not block the event loop for long (SQLite
    work runs in a worker thread; a database backend uses an async driver). Times are POSIX
    seconds from the journal's own clock. Methods taking a :class:`Lease` are **fenced**: they
    raise :class:`LeaseLostError` unless ``(owner, token)`` is the chunk's current lease and
    the chunk is not done. An expired lease nobody claimed since is still current (only a
    claim, with the next token, ends it): expiries are wall-clock times, and a forward step of
    the journal's clock must not cut off a live holder's work (a create it just made would
    be sent again).
    """

    async def open_run(
        self, kind: str, project_id: str, run_id: str | None, fingerprint: str
    ) -> RunRecord:
        """Create or find the run to work on, atomically (two callers agree on one run).

        With ``run_id``: that run, created if new. Without: the most recently started run of
        the same ``kind``, ``project_id`` and ``fingerprint`` (finished or not, so running a
        finished job again re-reports it without sending), else a new run with a fresh random
        id (16 hex characters). Two processes calling concurrently without a run id on an empty
        journal must get the same new run. Without a run id, a run of the same ``kind`` and
        ``project_id`` with another fingerprint that has chunks in the journal is refused
        rather than shadowed by a new run (whose new keys would send its chunks again): an
        unfinished one always, a finished one when no run has this fingerprint. Refusals are
        :func:`run_mismatch`'s (the run, its fingerprint, the way to a new run).

        Raises:
            JournalMismatchError: ``run_id`` exists with another kind, project or fingerprint;
                or, without ``run_id``, a run with chunks and another fingerprint is unfinished,
                or is the latest of its kind and project while none has this fingerprint.
        """

    async def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or ``None``."""

    async def claim(
        self, run_id: str, index: int, *, key: str, digest: str, owner: str, ttl_s: float
    ) -> Claim:
        """Take the lease on a chunk, creating its record (``planned``) on first sight.

        Granted when the chunk is not done and it has no lease, its lease expired, or ``owner``
        already holds it (then the same token is kept and the expiry extended). Another
        owner's lease ending more than ``ttl_s`` after now is never trusted (the journal's
        clock stepped back since it was written): its expiry is cut to ``now + ttl_s`` and the
        claim is not granted (see :func:`untrusted`). A new holder
        gets ``token = previous token + 1``. ``expires_at = now + ttl_s``. Outcomes, state,
        batch id, attempts, ``first_sent_at`` and flags are kept across holders.

        Raises:
            JournalMismatchError: the chunk was recorded with another ``digest`` (other input);
                ``key`` is not compared (it is derived from the run id and the digest). Also
                a new entry past the run's end-of-input entry, and an end-of-input entry
                (``digest`` :data:`END_DIGEST`) below an existing entry: the checks and the
                insert are atomic against concurrent claims of the run.
            ValueError: ``ttl_s <= 0`` or the run does not exist.
        """

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        """Heartbeat: extend the lease to ``now + ttl_s``; same token. Fenced."""

    async def release(self, lease: Lease) -> None:
        """Give the chunk up without finishing it (it stays resumable for any claimer).

        Does nothing if the lease is no longer current (it was taken over): releasing must never
        undo another holder's claim.
        """

    async def mark_sending(self, lease: Lease) -> ChunkRecord:
        """Record, before a create is sent, that it may reach the server. Fenced.

        ``state = sending``, ``attempts += 1``, ``first_sent_at`` set if unset. If the chunk
        was already ``sending`` or ``submitted`` before (a re-send), ``resubmitted`` is set.
        Returns the new record.
        """

    async def mark_unsent(self, lease: Lease, attempt: int) -> ChunkRecord:
        """Take back ``mark_sending`` number ``attempt`` (its returned ``attempts``): that
        create never left this machine (no connection to the server could be made: refused,
        unknown host, TLS). If ``attempts == attempt``: ``attempts = attempt - 1``, and with
        no attempt left the chunk is ``planned`` again and ``first_sent_at`` cleared, so a
        later run does not take it for sent (``IN_DOUBT``); otherwise nothing changes (a
        repeated call is harmless). Flags are kept. Fenced. Returns the record."""

    async def mark_resubmitted(self, lease: Lease) -> None:
        """Set the sticky ``resubmitted`` flag (a lost answer was seen). Fenced."""

    async def mark_in_doubt(self, lease: Lease) -> None:
        """Set ``in_doubt`` (fate unknown, deliberately not re-sent); the state is unchanged
        and the chunk stays resumable. Fenced."""

    async def mark_submitted(self, lease: Lease, batch_id: str) -> None:
        """Record the server's batch (task) id: ``state = submitted``, ``in_doubt`` cleared.
        Fenced."""

    async def mark_done(self, lease: Lease, outcomes: Sequence[ItemOutcome]) -> None:
        """Store the chunk's outcomes and set ``state = done``, releasing the lease, all in one
        transaction (either everything is written or nothing). Fenced: a worker whose lease
        was lost cannot overwrite the outcomes of the chunk's new holder."""

    async def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        """The chunk's record, or ``None``."""

    async def chunks(self, run_id: str) -> list[ChunkRecord]:
        """Every chunk record of the run, by index (not the end-of-input entry)."""

    async def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        """The outcomes stored by ``mark_done``, in the order given (``[]`` if not done).

        Every field of :class:`ItemOutcome` except ``request`` round-trips unchanged."""

    async def finish_run(self, run_id: str) -> None:
        """Set the run's ``finished_at`` (idempotent: the first time is kept)."""

    async def aclose(self) -> None:
        """Release connections; the journal is not used afterwards."""
