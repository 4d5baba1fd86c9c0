"""Pins of the chunk worker (orchestrator/_chunk.py): what it writes to the journal, sends,
polls and reports for each answer, on a real in-memory journal with a fake sender and poller."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest

from ica_tapis_async._errors import APIStatusError, AuthenticationError, PaginationError
from ica_tapis_async.orchestrator import Lease, MemoryJournal, _chunk
from ica_tapis_async.orchestrator._chunk import ChunkWorker
from ica_tapis_async.orchestrator._journal_protocol import ChunkRecord, Claim
from ica_tapis_async.orchestrator._lease import Slot
from ica_tapis_async.orchestrator._outcomes import chunk_outcomes
from ica_tapis_async.orchestrator._plan import Chunk, Kind, chunk_key
from ica_tapis_async.orchestrator._report import ItemOutcome
from ica_tapis_async.orchestrator._send import SendResult

CHUNK = Chunk(index=2, keys=["a", "b"], body=None, digest="dig")
POLLED = [ItemOutcome(kind="link", key="a", status="LINKED", ok=True)]
DAY = 86400.0


class Journal(MemoryJournal):
    """The in-memory journal on a settable clock, recording renewals."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.renewals: list[float] = []
        super().__init__(clock=lambda: self.now)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        self.renewals.append(ttl_s)
        return await super().renew(lease, ttl_s)


class FakeSender:
    """Answers each send with the next result, after running the check before an attempt."""

    def __init__(self, *results: SendResult) -> None:
        self.results = list(results)
        self.sent: list[tuple[Any, ...]] = []
        self.clock = lambda: 0.0
        self.journal: Journal | None = None
        self.owners: list[str | None] = []

    async def send(
        self,
        kind: Kind,
        chunk: Chunk,
        key: str,
        *,
        first_use: bool,
        before_attempt: Callable[[], Awaitable[None]],
    ) -> SendResult:
        await before_attempt()
        if self.journal is not None:
            held = await self.journal.get_chunk("r", chunk.index)
            self.owners.append(held.owner if held else None)
        self.sent.append((kind, chunk, key, first_use))
        return self.results.pop(0)


class FakePoller:
    def __init__(self, error: Exception | None = None) -> None:
        self.polled: list[tuple[Any, ...]] = []
        self.error = error

    async def await_items(
        self, kind: Kind, chunk: Chunk, batch_id: str, *, resubmitted: bool
    ) -> tuple[list[ItemOutcome], bool]:
        self.polled.append((kind, chunk, batch_id, resubmitted))
        if self.error is not None:
            raise self.error
        return POLLED, True


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """The batches the worker told telemetry about."""
    told: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        _chunk, "batch_known", lambda batch_id, resumed=False: told.append((batch_id, resumed))
    )
    return told


async def worker(
    *results: SendResult,
    kind: Kind = "link",
    poller: FakePoller | None = None,
    resend_in_doubt: bool = False,
    key_lifetime: float = 7 * DAY,
    **kw: Any,
) -> tuple[ChunkWorker, Journal, FakeSender]:
    journal = Journal()
    await journal.open_run(kind, "p", "r", "f")
    sender = FakeSender(*results)
    made = ChunkWorker(
        journal,
        "r",
        "me",
        sender,  # type: ignore[arg-type]
        poller or FakePoller(),  # type: ignore[arg-type]
        lease_ttl=30.0,
        key_lifetime=key_lifetime,
        resend_in_doubt=resend_in_doubt,
        **kw,
    )
    return made, journal, sender


async def earlier_attempt(journal: Journal, kind: Kind, *, batch: str | None = None) -> None:
    """A killed run's attempt: sent (and submitted as ``batch``), then its lease released."""
    key = chunk_key("r", kind, CHUNK.index, CHUNK.digest)
    claim = await journal.claim("r", CHUNK.index, key=key, digest="dig", owner="old", ttl_s=30)
    assert claim.lease is not None
    await journal.mark_sending(claim.lease)
    if batch is not None:
        await journal.mark_submitted(claim.lease, batch)
    await journal.release(claim.lease)


async def record(journal: Journal) -> ChunkRecord:
    got = await journal.get_chunk("r", CHUNK.index)
    assert got is not None
    return got


async def test_a_fresh_chunk_is_sent_once_submitted_and_polled(
    known: list[tuple[str, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    active: list[int] = []
    w, journal, sender = await worker(SendResult("b-1", False), on_active=active.append)
    sender.journal = journal
    with caplog.at_level(logging.INFO, "ica_tapis_async.orchestrator"):
        assert await w.run("link", CHUNK) == (POLLED, True)
    key = "ita-r-link-00000002-dig"
    assert sender.sent == [("link", CHUNK, key, True)]
    assert sender.owners == ["me"]  # sent under this worker's own lease
    assert journal.renewals == [30.0]  # the lease was renewed right before the attempt
    assert w.poller.polled == [("link", CHUNK, "b-1", False)]  # type: ignore[attr-defined]
    assert known == [("b-1", False)]
    assert active == [1, -1]
    done = await record(journal)
    assert (done.state, done.batch_id, done.key, done.digest) == ("done", "b-1", key, "dig")
    assert (done.attempts, done.resubmitted, done.in_doubt) == (1, False, False)
    [logged] = [r for r in caplog.records if r.levelno == logging.INFO]
    assert logged.getMessage() == "chunk 2 of run r submitted as batch b-1"
    extra = {k: getattr(logged, k) for k in ("run_id", "kind", "chunk", "batch_id")}
    assert extra == {"run_id": "r", "kind": "link", "chunk": 2, "batch_id": "b-1"}


async def test_a_submitted_chunk_is_resumed_without_sending(
    known: list[tuple[str, bool]],
) -> None:
    w, journal, sender = await worker()
    await earlier_attempt(journal, "link", batch="b-0")
    assert await w.run("link", CHUNK) == (POLLED, True)
    assert sender.sent == []
    assert known == [("b-0", True)]
    assert w.poller.polled == [("link", CHUNK, "b-0", False)]  # type: ignore[attr-defined]


async def test_a_second_attempt_is_no_first_use_and_resubmitted() -> None:
    w, journal, sender = await worker(SendResult("b-1", False))
    await earlier_attempt(journal, "link")
    assert await w.run("link", CHUNK) == (POLLED, True)
    assert sender.sent[0][3] is False
    assert w.poller.polled[0][3] is True  # type: ignore[attr-defined]
    assert (await record(journal)).attempts == 2


async def test_a_lost_answer_marks_the_chunk_resubmitted() -> None:
    w, journal, _ = await worker(SendResult("b-1", True))
    assert await w.run("link", CHUNK) == (POLLED, True)
    assert w.poller.polled[0][3] is True  # type: ignore[attr-defined]
    assert (await record(journal)).resubmitted


@pytest.mark.parametrize(
    ("age", "kind", "resend", "in_doubt"),
    [
        (8 * DAY, "analysis", False, True),
        (7 * DAY, "analysis", False, False),  # exactly the key's lifetime: still known
        (8 * DAY, "analysis", True, False),
        (8 * DAY, "link", False, False),
    ],
)
async def test_an_analysis_sent_before_the_key_was_forgotten_is_in_doubt(
    age: float, kind: Kind, resend: bool, in_doubt: bool
) -> None:
    w, journal, sender = await worker(SendResult("b-1", False), kind=kind, resend_in_doubt=resend)
    await earlier_attempt(journal, kind)
    journal.now += age
    outcomes, final = await w.run(kind, CHUNK)
    if not in_doubt:
        assert (outcomes, final) == (POLLED, True)
        assert len(sender.sent) == 1
        return
    info = (
        "first sent 192.0 h ago with Idempotency-Key ita-r-analysis-00000002-dig and its answer "
        "was lost; the server forgets keys after 7 days, so it may have created these "
        "analyses: check, then run again with resend_in_doubt=True to send them anyway"
    )
    assert (outcomes, final) == (
        chunk_outcomes(kind, CHUNK, "IN_DOUBT", info, resubmitted=True),
        False,
    )
    assert sender.sent == []
    assert (await record(journal)).in_doubt


async def test_the_age_is_counted_on_the_journals_clock_not_this_machines() -> None:
    w, journal, _ = await worker(SendResult("b-1", False), kind="analysis", wall_clock=lambda: 0.0)
    await earlier_attempt(journal, "analysis")
    journal.now += DAY
    w.sender.clock = lambda: 1e12
    assert await w.run("analysis", CHUNK) == (POLLED, True)


@pytest.mark.parametrize(
    ("result", "status", "final"),
    [
        (SendResult(None, False, "REJECTED", "bad"), "REJECTED", True),
        (SendResult(None, False, "NOT_SUBMITTED", "bad"), "NOT_SUBMITTED", False),
        (SendResult(None, False, None, None), "UNKNOWN", False),
    ],
)
async def test_a_failed_create_settles_the_chunk(
    result: SendResult, status: str, final: bool
) -> None:
    w, journal, _ = await worker(result)
    outcomes, got_final = await w.run("link", CHUNK)
    info = result.info or ""
    assert outcomes == chunk_outcomes("link", CHUNK, status, info, resubmitted=False)
    assert got_final is final
    assert not (await record(journal)).in_doubt


@pytest.mark.parametrize(("kind", "ref"), [("analysis", " with Idempotency-Key "), ("link", "")])
async def test_a_refused_resend_after_an_earlier_attempt_is_in_doubt(kind: Kind, ref: str) -> None:
    w, journal, _ = await worker(SendResult(None, False, "NOT_SUBMITTED", "HTTP 503"), kind=kind)
    await earlier_attempt(journal, kind)
    outcomes, final = await w.run(kind, CHUNK)
    key = f"ita-r-{kind}-00000002-dig" if ref else ""
    info = (
        f"HTTP 503; sent before{ref}{key}, so the server may have it: run again with the "
        "journal to settle it"
    )
    assert outcomes == chunk_outcomes(kind, CHUNK, "IN_DOUBT", info, resubmitted=True)
    assert not final
    assert (await record(journal)).in_doubt


async def test_an_in_doubt_create_is_flagged_in_the_journal() -> None:
    w, journal, _ = await worker(SendResult(None, True, "IN_DOUBT", "lost"))
    outcomes, final = await w.run("link", CHUNK)
    assert outcomes == chunk_outcomes("link", CHUNK, "IN_DOUBT", "lost", resubmitted=True)
    assert not final
    got = await record(journal)
    assert (got.in_doubt, got.resubmitted) == (True, True)


async def test_an_unsent_create_takes_its_attempt_back() -> None:
    refusal = AuthenticationError("HTTP 401", status=401)
    second = AuthenticationError("HTTP 401 again", status=401)
    w, journal, _ = await worker(
        SendResult(None, False, "NOT_SUBMITTED", "no", unsent=True, refused=refusal),
        SendResult(None, False, "NOT_SUBMITTED", "no", unsent=True, refused=second),
    )
    await w.run("link", CHUNK)
    got = await record(journal)
    assert (got.state, got.attempts, got.first_sent_at) == ("planned", 0, None)
    assert w.refused is refusal
    await w.run("link", CHUNK)
    assert w.refused is refusal  # the first refusal is the one reported


@pytest.mark.parametrize("error", [APIStatusError("HTTP 404", status=404), PaginationError("loop")])
async def test_a_batch_that_cannot_be_polled_stays_unknown(error: Exception) -> None:
    w, journal, _ = await worker(SendResult("b-1", True), poller=FakePoller(error))
    outcomes, final = await w.run("link", CHUNK)
    info = f"polling batch b-1 failed: {error}"
    assert outcomes == chunk_outcomes(
        "link", CHUNK, "UNKNOWN", info, resubmitted=True, batch_id="b-1"
    )
    assert not final
    assert (await record(journal)).state == "submitted"


async def test_waiting_for_another_worker_gives_the_slot_back() -> None:
    waits: list[float] = []

    def wall_clock() -> float:
        waits.append(0.0)
        return journal.now

    w, journal, sender = await worker(SendResult("b-1", False), wall_clock=wall_clock)
    key = chunk_key("r", "link", CHUNK.index, CHUNK.digest)
    other = await journal.claim("r", CHUNK.index, key=key, digest="dig", owner="o", ttl_s=0.01)
    assert other.lease is not None
    # The other lease has lapsed on the journal's clock (a forward step of it, say), but this
    # worker has not yet seen it unrenewed for its lease_ttl (30 s) of its own monotonic time:
    # it watches without claiming, and the journal's expiry is not what it waits on.
    journal.now += 1.0
    window = anyio.Semaphore(1)
    await window.acquire()
    with anyio.move_on_after(0.3):
        await w.run("link", CHUNK, Slot(window))
    assert window.value == 1  # given back while waiting
    after = await record(journal)
    assert (after.owner, after.lease_token) == ("o", other.lease.token)  # not claimed
    assert sender.sent == []  # nothing sent on a lease it does not hold
    assert waits == []  # timed on the worker's monotonic clock, not the journal's expiry


async def test_a_claim_lost_to_a_race_waits_by_the_workers_wall_clock() -> None:
    # Another worker claims between this worker's look and its claim: the refusal's expiry
    # (the journal's clock) is compared with the worker's wall clock to time the next look.
    times: list[float] = []

    def wall_clock() -> float:
        times.append(journal.now)
        return journal.now

    w, journal, sender = await worker(SendResult("b-1", False), wall_clock=wall_clock)
    key = chunk_key("r", "link", CHUNK.index, CHUNK.digest)
    looked = journal.get_chunk

    async def look_then_lose(run_id: str, index: int) -> ChunkRecord | None:
        seen = await looked(run_id, index)
        if seen is None:  # the first look: the other worker claims right after it
            await journal.claim("r", index, key=key, digest="dig", owner="o", ttl_s=5.0)
        return seen

    journal.get_chunk = look_then_lose  # type: ignore[method-assign]
    window = anyio.Semaphore(1)
    await window.acquire()
    with anyio.move_on_after(0.3):
        await w.run("link", CHUNK, Slot(window))
    assert times == [journal.now]  # once, for the refused claim
    assert window.value == 1
    assert sender.sent == []


class FakeFleet:
    def __init__(self) -> None:
        self.claims: list[tuple[Any, ...]] = []

    async def claim(
        self,
        index: int,
        digest: str,
        claim: Callable[[], Awaitable[Claim]],
        on_wait: Callable[[], None] | None,
        on_ready: Callable[[], Awaitable[None]] | None,
    ) -> Claim | list[ItemOutcome]:
        self.claims.append((index, digest, on_wait, on_ready))
        return await claim()

    @contextmanager
    def holding(self, *args: Any) -> Iterator[None]:
        yield


async def test_a_fleet_gets_the_slots_callbacks() -> None:
    fleet = FakeFleet()
    w, _, _ = await worker(SendResult("b-1", False), fleet=fleet)
    window = anyio.Semaphore(1)
    slot = Slot(window)
    assert await w.run("link", CHUNK, slot) == (POLLED, True)
    assert fleet.claims == [(2, "dig", slot.release, slot.acquire)]
    fleet.claims.clear()
    stored, final = await w.run("link", CHUNK)  # done: the stored outcomes
    assert ([(o.key, o.status) for o in stored], final) == ([("a", "LINKED")], True)
    assert fleet.claims == [(2, "dig", None, None)]
