"""Pins on the in-memory journal's state machine, on a fake clock: lease edges, fencing,
tokens, what ``done`` and ``release`` clear, run identity and the messages users read."""

from __future__ import annotations

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import (
    JournalMismatchError,
    Lease,
    LeaseLostError,
    MemoryJournal,
    NullJournal,
)


class Clock:
    """POSIX seconds that move only when a test moves them."""

    def __init__(self, now: float = 5000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


TTL = 30.0


async def journal_with_run(clock: Clock) -> MemoryJournal:
    """A memory journal on ``clock`` holding run ``r`` (a link run of project ``p``)."""
    journal = MemoryJournal(clock=clock)
    await journal.open_run("link", "p", "r", "fp")
    return journal


async def take(journal: MemoryJournal, owner: str = "a", index: int = 0) -> Lease:
    """Claim chunk ``index`` of run ``r`` for ``owner``; the claim must be granted."""
    claim = await journal.claim("r", index, key=f"k{index}", digest="d", owner=owner, ttl_s=TTL)
    assert claim.lease is not None
    return claim.lease


# --- lease edges ---------------------------------------------------------------------------------


async def test_a_lapsed_lease_writes_until_another_owner_claims() -> None:
    """Past ``expires_at`` a lease nobody claimed is still current (a forward clock step must
    not cut off its holder); another owner's claim, with the next token, fences it."""
    clock = Clock()
    journal = await journal_with_run(clock)
    lease = await take(journal)
    clock.now = lease.expires_at + 1000.0
    assert (await journal.mark_sending(lease)).state == "sending"
    assert (await take(journal, "b")).token == lease.token + 1
    with pytest.raises(LeaseLostError):
        await journal.mark_sending(lease)


async def test_a_lease_is_still_good_just_before_its_expiry() -> None:
    """A moment before ``expires_at`` the holder may still write."""
    clock = Clock()
    journal = await journal_with_run(clock)
    lease = await take(journal)
    clock.now = lease.expires_at - 0.001
    assert (await journal.mark_sending(lease)).state == "sending"


async def test_another_owner_may_claim_at_the_expiry_instant() -> None:
    """At exactly ``expires_at`` the chunk is free: another owner takes it with the next token."""
    clock = Clock()
    journal = await journal_with_run(clock)
    first = await take(journal, "a")
    clock.now = first.expires_at
    second = await take(journal, "b")
    assert (second.owner, second.token) == ("b", 2)


async def test_a_held_lease_is_refused_to_another_owner_just_before_expiry() -> None:
    """Until the expiry instant the holder keeps the chunk; the refusal says who and until when."""
    clock = Clock()
    journal = await journal_with_run(clock)
    first = await take(journal, "a")
    clock.now = first.expires_at - 0.001
    claim = await journal.claim("r", 0, key="k0", digest="d", owner="b", ttl_s=TTL)
    assert claim.lease is None
    assert (claim.record.owner, claim.record.lease_expires_at) == ("a", first.expires_at)


async def test_the_lease_expires_ttl_seconds_after_the_claim() -> None:
    """``expires_at`` is the journal's now plus ``ttl_s``, on the lease and on the record."""
    clock = Clock(now=7000.0)
    journal = await journal_with_run(clock)
    claim = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=12.5)
    assert claim.lease is not None
    assert claim.lease.expires_at == 7012.5
    assert claim.record.lease_expires_at == 7012.5


async def test_renew_moves_the_expiry_to_now_plus_ttl() -> None:
    """A heartbeat extends the lease from the time of the heartbeat, keeping the token."""
    clock = Clock()
    journal = await journal_with_run(clock)
    lease = await take(journal)
    clock.now += 10
    renewed = await journal.renew(lease, 100.0)
    assert (renewed.token, renewed.expires_at) == (lease.token, clock.now + 100.0)
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert record.lease_expires_at == clock.now + 100.0


# --- tokens ------------------------------------------------------------------------------------


async def test_tokens_count_up_by_one_per_change_of_hands() -> None:
    """a, then b after a's lease lapsed, then a again: tokens 1, 2, 3."""
    clock = Clock()
    journal = await journal_with_run(clock)
    tokens = []
    for owner in ("a", "b", "a"):
        lease = await take(journal, owner)
        tokens.append(lease.token)
        clock.now = lease.expires_at
    assert tokens == [1, 2, 3]


async def test_the_holder_reclaiming_in_time_keeps_its_token() -> None:
    """Claiming again before expiry is a renewal: same token, later expiry."""
    clock = Clock()
    journal = await journal_with_run(clock)
    first = await take(journal)
    clock.now += 5
    again = await take(journal)
    assert (again.token, again.expires_at) == (first.token, clock.now + TTL)


async def test_the_holder_reclaiming_after_its_lease_lapsed_gets_a_new_token() -> None:
    """A lapsed lease is gone even for its own owner: the re-claim is a new holding."""
    clock = Clock()
    journal = await journal_with_run(clock)
    first = await take(journal)
    clock.now = first.expires_at + 1
    again = await take(journal)
    assert again.token == first.token + 1


async def test_a_stale_lease_of_the_same_owner_is_fenced() -> None:
    """After re-claiming a lapsed chunk, the owner's old lease (old token) can no longer write."""
    clock = Clock()
    journal = await journal_with_run(clock)
    old = await take(journal)
    clock.now = old.expires_at + 1
    await take(journal)
    with pytest.raises(LeaseLostError):
        await journal.mark_submitted(old, "batch-1")
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert record.batch_id is None


async def test_a_lease_naming_another_owner_is_fenced_even_with_the_current_token() -> None:
    """Fencing checks the owner and the token together, not the token alone."""
    clock = Clock()
    journal = await journal_with_run(clock)
    lease = await take(journal, "a")
    forged = Lease("r", 0, "b", lease.token, lease.expires_at)
    with pytest.raises(LeaseLostError):
        await journal.mark_sending(forged)


async def test_a_lease_on_a_chunk_never_claimed_is_fenced() -> None:
    """A write about a chunk the journal does not hold is a lost lease, not a crash."""
    journal = await journal_with_run(Clock())
    with pytest.raises(LeaseLostError):
        await journal.mark_in_doubt(Lease("r", 9, "a", 1, 1e12))


async def test_lease_lost_message_names_the_chunk_and_run() -> None:
    """The whole message a user sees when a worker lost its lease."""
    journal = await journal_with_run(Clock())
    with pytest.raises(LeaseLostError) as info:
        await journal.renew(Lease("r", 4, "a", 1, 1e12), TTL)
    assert str(info.value) == "our lease on chunk 4 of run r is no longer current"


# --- what done, submitted and release clear -----------------------------------------------------


async def test_done_clears_the_lease_and_the_in_doubt_flag() -> None:
    """A done chunk has no holder, no expiry and is not in doubt (its fate is known)."""
    journal = await journal_with_run(Clock())
    lease = await take(journal)
    await journal.mark_sending(lease)
    await journal.mark_in_doubt(lease)
    await journal.mark_done(lease, [])
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert (record.state, record.owner, record.lease_expires_at) == ("done", None, None)
    assert record.in_doubt is False


async def test_submitted_clears_the_in_doubt_flag() -> None:
    """The server's batch id ends the doubt."""
    journal = await journal_with_run(Clock())
    lease = await take(journal)
    await journal.mark_sending(lease)
    await journal.mark_in_doubt(lease)
    await journal.mark_submitted(lease, "b-1")
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert (record.state, record.batch_id) == ("submitted", "b-1")
    assert record.in_doubt is False


async def test_stored_outcomes_carry_their_chunk_and_drop_the_request() -> None:
    """Outcomes are filed under the lease's chunk, without the (possibly large) request."""
    journal = await journal_with_run(Clock())
    lease = await take(journal, index=3)
    given = ita.ItemOutcome(kind="link", key="fil.1", status="FAILED", ok=False, request="fil.1")
    await journal.mark_done(lease, [given])
    [stored] = await journal.outcomes("r", 3)
    assert stored.chunk == 3
    assert stored.request is None
    assert (stored.key, stored.status, stored.ok) == ("fil.1", "FAILED", False)


async def test_release_leaves_the_chunk_unowned_and_unleased() -> None:
    """A released chunk has no holder and no expiry, and keeps its token for the next claim."""
    journal = await journal_with_run(Clock())
    lease = await take(journal)
    await journal.release(lease)
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert (record.owner, record.lease_expires_at, record.lease_token) == (None, None, 1)
    assert (await take(journal, "b")).token == 2


# --- mismatches and bad claims ------------------------------------------------------------------


async def test_a_chunk_with_other_input_is_refused_with_the_whole_message() -> None:
    """Another digest for a recorded chunk: the message and field a user reads."""
    journal = await journal_with_run(Clock())
    await take(journal, index=2)
    with pytest.raises(JournalMismatchError) as info:
        await journal.claim("r", 2, key="k2", digest="other", owner="a", ttl_s=TTL)
    assert str(info.value) == (
        "journal: chunk 2 of run r was recorded with other input (other items, order or "
        "batch_size); resume with the same input, or start a new run with a new journal or "
        "another run_id"
    )
    assert info.value.field == "journal"


async def test_a_non_positive_ttl_is_refused_with_the_whole_message() -> None:
    """``ttl_s`` must be positive."""
    journal = await journal_with_run(Clock())
    with pytest.raises(ValueError) as info:
        await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=0)
    assert str(info.value) == "ttl_s must be > 0"


# --- runs ----------------------------------------------------------------------------------------


async def test_a_run_starts_at_the_journal_clock() -> None:
    """``started_at`` is the journal's time of the first open, named or not."""
    clock = Clock(now=1234.5)
    journal = MemoryJournal(clock=clock)
    named = await journal.open_run("link", "p", "r", "fp")
    fresh = await journal.open_run("update", "p", None, "fp")
    assert (named.started_at, fresh.started_at) == (1234.5, 1234.5)


async def test_a_named_run_with_other_options_is_refused_with_the_whole_message() -> None:
    """Reusing a run id with another batch size: the message and field a user reads."""
    journal = await journal_with_run(Clock())
    with pytest.raises(JournalMismatchError) as info:
        await journal.open_run("link", "p", "r", "fp-other")
    assert str(info.value) == (
        "run_id: the journal holds unfinished link run 'r' of this project, recorded with fp; "
        "this call has fp-other: pass fp to resume it, or another run_id to start a new run "
        "deliberately (its chunks get new keys and would be sent again)"
    )
    assert info.value.field == "run_id"
    with pytest.raises(JournalMismatchError) as info:
        await journal.open_run("update", "q", "r", "fp")
    assert str(info.value) == (
        "run_id: the journal holds run 'r' as a link run of project 'p', not a update run of "
        "project 'q': pass another run_id"
    )


async def unfinished_with_a_chunk(journal: MemoryJournal) -> str:
    """Open an unnamed link run of project ``p`` (fingerprint ``fp``) and claim one chunk."""
    run = await journal.open_run("link", "p", None, "fp")
    await journal.claim(run.run_id, 0, key="k", digest="d", owner="a", ttl_s=TTL)
    return run.run_id


async def test_an_unfinished_run_with_other_options_is_not_shadowed() -> None:
    """Without a run id, other options beside an unfinished run with chunks are refused."""
    journal = MemoryJournal(clock=Clock())
    run_id = await unfinished_with_a_chunk(journal)
    with pytest.raises(JournalMismatchError) as info:
        await journal.open_run("link", "p", None, "batch_size=7")
    assert str(info.value) == (
        f"run_id: the journal holds unfinished link run {run_id!r} of this project, recorded "
        "with fp; this call has batch_size=7: pass fp to resume it, or another run_id to start "
        "a new run deliberately (its chunks get new keys and would be sent again)"
    )
    assert info.value.field == "run_id"


async def test_the_same_options_resume_the_unfinished_run() -> None:
    """Without a run id, the same kind, project and fingerprint find the unfinished run."""
    journal = MemoryJournal(clock=Clock())
    run_id = await unfinished_with_a_chunk(journal)
    assert (await journal.open_run("link", "p", None, "fp")).run_id == run_id


@pytest.mark.parametrize(("kind", "project"), [("update", "p"), ("link", "q")])
async def test_an_unfinished_run_of_another_kind_or_project_does_not_block(
    kind: str, project: str
) -> None:
    """Only a run of the same kind and project can be shadowed; others start a new run."""
    journal = MemoryJournal(clock=Clock())
    run_id = await unfinished_with_a_chunk(journal)
    other = await journal.open_run(kind, project, None, "fp-other")
    assert other.run_id != run_id


async def test_a_finished_run_with_other_options_is_not_shadowed() -> None:
    """A finished run with other options, and none with these: a new run's new keys would
    send it all again, so it is refused by name (issue 19, point 1)."""
    journal = MemoryJournal(clock=Clock())
    run_id = await unfinished_with_a_chunk(journal)
    await journal.finish_run(run_id)
    with pytest.raises(JournalMismatchError) as info:
        await journal.open_run("link", "p", None, "fp-other")
    assert str(info.value) == (
        f"run_id: the journal holds finished link run {run_id!r} of this project, recorded "
        "with fp; this call has fp-other: pass fp to replay it, or another run_id to start a "
        "new run deliberately (its chunks get new keys and would be sent again)"
    )
    named = await journal.open_run("link", "p", "deliberate", "fp-other")
    assert named.run_id == "deliberate"


async def test_a_run_with_these_options_is_found_beside_a_finished_other() -> None:
    """A finished run with other options does not hide a run with these: it is replayed."""
    journal = MemoryJournal(clock=Clock())
    first = await unfinished_with_a_chunk(journal)
    await journal.finish_run(first)
    await journal.open_run("link", "p", "second", "fp-other")
    await journal.claim("second", 0, key="k", digest="d", owner="a", ttl_s=TTL)
    await journal.finish_run("second")
    assert (await journal.open_run("link", "p", None, "fp")).run_id == first
    assert (await journal.open_run("link", "p", None, "fp-other")).run_id == "second"


async def test_an_unfinished_run_without_chunks_does_not_block() -> None:
    """A run that never claimed a chunk sent nothing; another run's chunks do not count."""
    journal = MemoryJournal(clock=Clock())
    empty = await journal.open_run("link", "p", None, "fp")
    await journal.open_run("link", "q", "elsewhere", "fp-q")
    await journal.claim("elsewhere", 0, key="k", digest="d", owner="a", ttl_s=TTL)
    other = await journal.open_run("link", "p", None, "fp-other")
    assert other.run_id not in (empty.run_id, "elsewhere")


# --- the null journal ---------------------------------------------------------------------------


async def test_the_null_journal_keeps_chunk_records_but_no_outcomes() -> None:
    """The default journal tracks chunk states for this process and stores no outcomes."""
    journal = NullJournal()
    await journal.open_run("link", "p", "r", "fp")
    lease = await take(journal)
    await journal.mark_done(
        lease, [ita.ItemOutcome(kind="link", key="x", status="LINKED", ok=True)]
    )
    record = await journal.get_chunk("r", 0)
    assert record is not None
    assert record.state == "done"
    assert await journal.outcomes("r", 0) == []
