"""Pins of the SQLite journal's lease rules (claim, fencing, renew, release, end of input):
each claim's answer and what it leaves in the file, compared whole, on a fake clock."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from ica_tapis_async.orchestrator import Lease, LeaseLostError, SqliteJournal
from ica_tapis_async.orchestrator._journal_protocol import (
    END_DIGEST,
    END_KEY,
    ChunkRecord,
    Claim,
    JournalMismatchError,
    RunRecord,
    digest_mismatch,
    past_end_mismatch,
    run_mismatch,
    shorter_mismatch,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def journal(tmp_path: Path, clock: Clock) -> AsyncIterator[SqliteJournal]:
    opened = SqliteJournal(tmp_path / "j.sqlite", clock=clock)
    await opened.open_run("link", "p", "r", "f")
    yield opened
    await opened.aclose()


async def claim(journal: SqliteJournal, owner: str, ttl_s: float = 10.0, index: int = 0) -> Claim:
    return await journal.claim("r", index, key=f"k{index}", digest="d", owner=owner, ttl_s=ttl_s)


async def stored(journal: SqliteJournal, index: int = 0) -> ChunkRecord:
    got = await journal.get_chunk("r", index)
    assert got is not None
    return got


def held(owner: str, token: int, expires: float) -> ChunkRecord:
    return ChunkRecord(
        0, "k0", "d", "planned", owner=owner, lease_token=token, lease_expires_at=expires
    )


async def test_a_fresh_chunk_is_granted_with_token_one(journal: SqliteJournal) -> None:
    got = await claim(journal, "a")
    assert got == Claim(held("a", 1, 1010.0), Lease("r", 0, "a", 1, 1010.0))
    assert await stored(journal) == held("a", 1, 1010.0)


async def test_a_held_chunk_is_refused_to_others_until_its_lease_lapses(
    journal: SqliteJournal, clock: Clock
) -> None:
    await claim(journal, "a")
    clock.now = 1009.0
    assert await claim(journal, "b") == Claim(held("a", 1, 1010.0))
    clock.now = 1010.0  # the lease ends at 1010: free from then on
    got = await claim(journal, "b", ttl_s=5.0)
    assert got == Claim(held("b", 2, 1015.0), Lease("r", 0, "b", 2, 1015.0))
    assert await stored(journal) == held("b", 2, 1015.0)


async def test_the_holder_claiming_again_keeps_its_token_until_its_lease_lapsed(
    journal: SqliteJournal, clock: Clock
) -> None:
    await claim(journal, "a")
    clock.now = 1005.0
    assert await claim(journal, "a") == Claim(held("a", 1, 1015.0), Lease("r", 0, "a", 1, 1015.0))
    clock.now = 1015.0
    assert await claim(journal, "a") == Claim(held("a", 2, 1025.0), Lease("r", 0, "a", 2, 1025.0))
    assert await stored(journal) == held("a", 2, 1025.0)


async def test_a_lease_beyond_the_clock_is_cut_to_one_ttl(
    journal: SqliteJournal, clock: Clock
) -> None:
    await claim(journal, "a", ttl_s=100.0)
    clock.now = 500.0  # the journal's clock stepped back
    assert await claim(journal, "b") == Claim(held("a", 1, 510.0))
    assert await stored(journal) == held("a", 1, 510.0)
    clock.now = 510.0
    assert (await claim(journal, "b")).lease == Lease("r", 0, "b", 2, 520.0)


async def test_claims_refuse_bad_input(journal: SqliteJournal) -> None:
    with pytest.raises(ValueError, match=r"^ttl_s must be > 0$"):
        await claim(journal, "a", ttl_s=0)
    with pytest.raises(ValueError, match=r"^run 'nope' is not in the journal$"):
        await journal.claim("nope", 0, key="k", digest="d", owner="a", ttl_s=1)
    await claim(journal, "a")
    with pytest.raises(JournalMismatchError) as caught:
        await journal.claim("r", 0, key="k0", digest="other", owner="a", ttl_s=1)
    assert str(caught.value) == str(digest_mismatch("r", "link", 0, "d", "other"))


async def test_the_end_of_input_bounds_the_entries(journal: SqliteJournal) -> None:
    await claim(journal, "a", index=0)
    end = await journal.claim("r", 2, key=END_KEY, digest=END_DIGEST, owner="a", ttl_s=10)
    assert end.lease is not None
    await journal.mark_done(end.lease, [])
    with pytest.raises(JournalMismatchError) as past:
        await claim(journal, "a", index=3)
    assert str(past.value) == str(past_end_mismatch("r", "link", 2))
    assert (await claim(journal, "a", index=1)).lease is not None  # below the end: fine


async def test_an_end_below_an_entry_is_refused(journal: SqliteJournal) -> None:
    await claim(journal, "a", index=3)
    with pytest.raises(JournalMismatchError) as caught:
        await journal.claim("r", 1, key=END_KEY, digest=END_DIGEST, owner="a", ttl_s=10)
    assert str(caught.value) == str(shorter_mismatch("r", "link", 1))
    end = await journal.claim("r", 4, key=END_KEY, digest=END_DIGEST, owner="a", ttl_s=10)
    assert end.lease is not None


async def test_fenced_writes_name_why_the_lease_is_lost(
    journal: SqliteJournal, clock: Clock
) -> None:
    lease = (await claim(journal, "a")).lease
    assert lease is not None
    ghost = Lease("r", 7, "a", 1, 1010.0)
    with pytest.raises(LeaseLostError, match=r"^chunk 7 of run r is not in the journal$"):
        await journal.renew(ghost, 10)
    same_owner_old_token = Lease("r", 0, "a", 0, 1010.0)
    with pytest.raises(
        LeaseLostError, match=r"^chunk 0 of run r is held by another worker \(token 1, ours 0\)$"
    ):
        await journal.renew(same_owner_old_token, 10)
    other_owner_same_token = Lease("r", 0, "b", 1, 1010.0)
    with pytest.raises(LeaseLostError, match="held by another worker"):
        await journal.mark_in_doubt(other_owner_same_token)
    # Lapsed but unclaimed: still ours (only a claim ends a lease; a forward step of the
    # journal's clock must not cut off a live holder), renewed from the journal's now.
    clock.now = 1050.0
    assert await journal.renew(lease, 10) == Lease("r", 0, "a", 1, 1060.0)
    clock.now = 1060.0  # exactly when it ends: another worker may claim it
    taken = (await claim(journal, "b")).lease
    assert taken == Lease("r", 0, "b", 2, 1070.0)
    with pytest.raises(
        LeaseLostError, match=r"^chunk 0 of run r is held by another worker \(token 2, ours 1\)$"
    ):
        await journal.renew(lease, 10)
    with pytest.raises(LeaseLostError, match=r"held by another worker \(token 2, ours 1\)$"):
        await journal.mark_done(lease, [])
    assert await stored(journal) == held("b", 2, 1070.0)


async def test_a_done_chunk_refuses_fenced_writes(journal: SqliteJournal) -> None:
    lease = (await claim(journal, "a")).lease
    assert lease is not None
    await journal.mark_done(lease, [])
    # mark_done cleared the owner; a record still naming us and done is refused as done.
    journal._db.execute("UPDATE ita_chunks_v2 SET owner = 'a', expires = 2000")
    with pytest.raises(LeaseLostError, match=r"^chunk 0 of run r is already done$"):
        await journal.renew(lease, 10)
    assert (await claim(journal, "b")).lease is None  # done: never granted


async def test_renew_extends_from_the_journals_now(journal: SqliteJournal, clock: Clock) -> None:
    lease = (await claim(journal, "a")).lease
    assert lease is not None
    clock.now = 1004.0
    assert await journal.renew(lease, 20) == Lease("r", 0, "a", 1, 1024.0)
    assert await stored(journal) == held("a", 1, 1024.0)


async def test_release_frees_only_our_own_lease(journal: SqliteJournal, clock: Clock) -> None:
    old = (await claim(journal, "a")).lease
    assert old is not None
    clock.now = 1010.0
    new = (await claim(journal, "b")).lease
    assert new is not None
    await journal.release(old)  # stale: changes nothing
    assert await stored(journal) == held("b", 2, 1020.0)
    await journal.release(Lease("r", 0, "a", 2, 1020.0))  # our token, not our name
    assert await stored(journal) == held("b", 2, 1020.0)
    await journal.release(new)
    free = await stored(journal)
    assert (free.owner, free.lease_expires_at, free.lease_token) == (None, None, 2)


async def test_end_refusals_count_in_the_runs_own_unit(journal: SqliteJournal) -> None:
    await journal.open_run("transfer", "p", "t", "f")

    async def end(index: int) -> Claim:
        return await journal.claim("t", index, key=END_KEY, digest=END_DIGEST, owner="a", ttl_s=9)

    await journal.claim("t", 3, key="k3", digest="d", owner="a", ttl_s=9)
    with pytest.raises(JournalMismatchError) as shorter:
        await end(1)
    assert str(shorter.value) == str(shorter_mismatch("t", "transfer", 1))
    done = (await end(5)).lease
    assert done is not None
    await journal.mark_done(done, [])
    with pytest.raises(JournalMismatchError) as past:
        await journal.claim("t", 6, key="k6", digest="d", owner="a", ttl_s=9)
    assert str(past.value) == str(past_end_mismatch("t", "transfer", 5))
    assert "5 transfer requests" in str(past.value)
    with pytest.raises(JournalMismatchError) as at_end:  # the end's own entry, other input
        await journal.claim("t", 5, key="k5", digest="d", owner="a", ttl_s=9)
    assert str(at_end.value) == str(past_end_mismatch("t", "transfer", 5))


async def test_open_run_records_and_refuses_whole(
    journal: SqliteJournal, clock: Clock, tmp_path: Path
) -> None:
    clock.now = 1234.0
    named = await journal.open_run("update", "p2", "r2", "f2")
    assert named == RunRecord("r2", "update", "p2", "f2", 1234.0)
    unnamed = await journal.open_run("analysis", "p3", None, "f3")
    assert unnamed == RunRecord(unnamed.run_id, "analysis", "p3", "f3", 1234.0)
    assert await journal.get_run(unnamed.run_id) == unnamed
    with pytest.raises(JournalMismatchError) as caught:
        await journal.open_run("update", "p2", "r2", "other")
    where = f" {tmp_path / 'j.sqlite'}"
    assert str(caught.value) == str(run_mismatch(named, "update", "p2", "other", where=where))


async def test_reads_do_not_wait_for_another_processs_write_lock(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "locked.sqlite"
    journal = SqliteJournal(path, clock=clock, busy_timeout_s=0.05)
    try:
        await journal.open_run("link", "p", "r", "f")
        lease = (await claim(journal, "a")).lease
        assert lease is not None
        await journal.mark_done(lease, [])
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process is writing
            with anyio.fail_after(2):
                assert await journal.get_run("r") is not None
                assert await journal.get_chunk("r", 0) is not None
                assert await journal.chunks("r") != []
                assert await journal.outcomes("r", 0) == []
                # A write waits busy_timeout_s (not SQLite's default of 5 s), then fails.
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    await claim(journal, "a", index=1)
        finally:
            other.close()
    finally:
        await journal.aclose()


async def test_the_journal_names_its_file_and_waits_for_a_busy_database(tmp_path: Path) -> None:
    # SQLite's busy timeout (PRAGMA busy_timeout, in ms): 30 s unless told otherwise.
    path = tmp_path / "busy.sqlite"
    default = SqliteJournal(path)
    told = SqliteJournal(tmp_path / "told.sqlite", busy_timeout_s=2.5)
    try:
        assert repr(default) == f"SqliteJournal({str(path)!r})"
        assert default._db.execute("PRAGMA busy_timeout").fetchone() == (30000,)
        assert told._db.execute("PRAGMA busy_timeout").fetchone() == (2500,)
    finally:
        await default.aclose()
        await told.aclose()
