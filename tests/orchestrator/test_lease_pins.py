"""Pins of the lease holder (orchestrator/_lease.py) against a scripted journal and fleet.

Fast and deterministic: the journal is a fake that answers claims from a script and records
every call, the waits of ``run_leased`` are recorded instead of slept, the fleet is a fake.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ica_tapis_async.orchestrator import _lease, _lease_watch
from ica_tapis_async.orchestrator._journal_protocol import (
    END_DIGEST,
    END_KEY,
    ChunkRecord,
    Claim,
    JournalMismatchError,
    Lease,
    LeaseLostError,
)
from ica_tapis_async.orchestrator._lease import (
    Held,
    Slot,
    record_input_end,
    renew_before_send,
    run_leased,
)
from ica_tapis_async.orchestrator._report import ItemOutcome

LEASE = Lease(run_id="r", index=3, owner="me", token=5, expires_at=100.0)
MINE = ChunkRecord(index=3, key="k", digest="d", state="planned", owner="me", lease_token=5)
DONE = ChunkRecord(index=3, key="k", digest="d", state="done")
STORED = [ItemOutcome(kind="link", key="stored", status="LINKED", ok=True)]
WORKED = [ItemOutcome(kind="link", key="worked", status="LINKED", ok=True)]


def held_by_other(expires: float | None) -> Claim:
    """A claim refused: another worker's lease runs until ``expires``."""
    record = ChunkRecord(
        index=3, key="k", digest="d", state="planned", owner="other", lease_expires_at=expires
    )
    return Claim(record=record, lease=None)


GRANTED = Claim(record=MINE, lease=LEASE)
FINAL = Claim(record=DONE, lease=None)


class ScriptedJournal:
    """Claims answered from ``script``; every call recorded in ``calls``."""

    def __init__(
        self, *script: Claim, chunk: ChunkRecord | list[ChunkRecord | None] | None = MINE
    ) -> None:
        self.script = list(script)
        self.calls: list[tuple[Any, ...]] = []
        # One record for every read, or (a list) the answers of the reads in turn.
        self.chunk = chunk
        self.renewed = anyio.Event()
        self.renew_fails = False

    async def claim(self, run_id: str, index: int, **kwargs: Any) -> Claim:
        self.calls.append(("claim", run_id, index, kwargs))
        return self.script.pop(0)

    async def outcomes(self, run_id: str, index: int) -> list[ItemOutcome]:
        self.calls.append(("outcomes", run_id, index))
        return STORED

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        self.calls.append(("renew", lease, ttl_s))
        self.renewed.set()
        if self.renew_fails:
            raise LeaseLostError("taken")
        return Lease(lease.run_id, lease.index, lease.owner, lease.token, lease.expires_at + 1)

    async def release(self, lease: Lease) -> None:
        await anyio.lowlevel.checkpoint()  # a cancellation not shielded off ends here
        self.calls.append(("release", lease))

    async def mark_done(self, lease: Lease, outcomes: list[ItemOutcome]) -> None:
        await anyio.lowlevel.checkpoint()
        self.calls.append(("mark_done", lease, outcomes))

    async def get_chunk(self, run_id: str, index: int) -> ChunkRecord | None:
        self.calls.append(("get_chunk", run_id, index))
        if isinstance(self.chunk, list):
            return self.chunk.pop(0)
        return self.chunk

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] == name]


CLAIM_ARGS = ("claim", "r", 3, {"key": "k", "digest": "d", "owner": "me", "ttl_s": 30.0})
#: Without a fleet the entry is read before each claim: another worker's lease is claimed
#: only once seen unrenewed for a lease time (_lease_watch); ours (MINE) is claimed at once.
LOOK = ("get_chunk", "r", 3)


async def leased(
    journal: ScriptedJournal,
    work: _lease.LeasedWork,
    *,
    ttl_s: float = 30.0,
    **kwargs: Any,
) -> tuple[list[ItemOutcome], bool]:
    with anyio.fail_after(5):
        return await run_leased(
            journal,  # type: ignore[arg-type]
            "r",
            3,
            key="k",
            digest="d",
            owner="me",
            ttl_s=ttl_s,
            work=work,
            **kwargs,
        )


async def final_work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
    return WORKED, True


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits of ``run_leased`` and the heartbeat, recorded (and only yielded to)."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        await anyio.lowlevel.checkpoint()

    class Anyio:
        def __getattr__(self, name: str) -> Any:
            return sleep if name == "sleep" else getattr(anyio, name)

    monkeypatch.setattr(_lease, "anyio", Anyio())
    return waited


async def test_a_slot_is_given_back_once_and_taken_again_once() -> None:
    window = anyio.Semaphore(1)
    await window.acquire()
    slot = Slot(window)
    slot.release()
    slot.release()
    assert window.value == 1
    with anyio.fail_after(1):
        await slot.acquire()
        assert window.value == 0
        await slot.acquire()  # held: nothing to take
    assert window.value == 0
    slot.release()
    assert window.value == 1


@pytest.mark.parametrize("granted", [True, False])
async def test_the_input_end_is_claimed_and_marked_done_when_granted(granted: bool) -> None:
    journal = ScriptedJournal(GRANTED if granted else held_by_other(1.0))
    await record_input_end(journal, "r", 3, "me", 7.0)  # type: ignore[arg-type]
    claim: tuple[Any, ...] = (
        "claim",
        "r",
        3,
        {"key": END_KEY, "digest": END_DIGEST, "owner": "me", "ttl_s": 7.0},
    )
    assert journal.calls == ([claim, ("mark_done", LEASE, [])] if granted else [claim])


async def test_a_done_entry_returns_its_stored_outcomes_without_work() -> None:
    journal = ScriptedJournal(FINAL)
    assert await leased(journal, final_work) == (STORED, True)
    assert journal.calls == [LOOK, CLAIM_ARGS, ("outcomes", "r", 3)]


@pytest.mark.parametrize(
    ("now", "expires", "ttl_s", "wait"),
    [
        (1000.0, 1000.3, 30.0, 0.3),  # until the other lease lapses
        (1000.0, 1000.01, 30.0, 0.05),  # at least 0.05 s
        (1000.0, 1005.0, 2.0, 0.5),  # at most a quarter of the lease
        (1000.0, 1005.0, 30.0, 1.0),  # at most a second
        # The journal refused: its lease is live whatever our clock says. No expiry known,
        # or one in our past (our clock is ahead of the journal's): polled as a live lease.
        (0.5, None, 30.0, 1.0),
        (1000.0, 999.0, 2.0, 0.5),
        (1000.0, 1000.0, 30.0, 1.0),
    ],
)
async def test_waiting_for_another_worker_looks_again_when_its_lease_lapses(
    sleeps: list[float], now: float, expires: float | None, ttl_s: float, wait: float
) -> None:
    journal = ScriptedJournal(held_by_other(expires), held_by_other(expires), FINAL)
    waits: list[None] = []
    result = await leased(
        journal,
        final_work,
        ttl_s=ttl_s,
        wall_clock=lambda: now,
        on_wait=lambda: waits.append(None),
    )
    assert result == (STORED, True)
    assert sleeps == [pytest.approx(wait)] * 2
    assert waits == [None]  # the slot is freed once
    assert len(journal.named("claim")) == 3


async def test_a_granted_final_entry_is_marked_done_with_the_works_outcomes() -> None:
    journal = ScriptedJournal(GRANTED)
    seen: list[tuple[ChunkRecord, Lease]] = []

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        seen.append((record, held.lease))
        return WORKED, True

    assert await leased(journal, work) == (WORKED, True)
    assert seen == [(MINE, LEASE)]
    assert journal.calls == [LOOK, CLAIM_ARGS, ("mark_done", LEASE, WORKED)]


async def test_a_non_final_entry_is_released_and_read_back() -> None:
    journal = ScriptedJournal(GRANTED)

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        return WORKED, False

    assert await leased(journal, work) == (WORKED, False)
    assert journal.calls == [LOOK, CLAIM_ARGS, ("release", LEASE), ("get_chunk", "r", 3)]


@pytest.mark.parametrize(
    "after",
    [
        None,
        DONE,
        ChunkRecord(index=3, key="k", digest="d", state="done", owner="me", lease_token=5),
        ChunkRecord(index=3, key="k", digest="d", state="planned", owner="b", lease_token=6),
    ],
)
async def test_a_release_that_finds_the_entry_gone_is_a_lost_lease(
    after: ChunkRecord | None, caplog: pytest.LogCaptureFixture
) -> None:
    # Read before the claim, read back after the release, read before the claim again.
    journal = ScriptedJournal(GRANTED, FINAL, chunk=[MINE, after, None])

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        return WORKED, False

    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        assert await leased(journal, work) == (STORED, True)
    # The read-back's own error is only a signal; the loss is reported as a lapse.
    assert caplog.messages == [
        "lost entry 3 of run r: the lease on entry 3 lapsed while working on it"
    ]
    assert journal.calls == [
        LOOK,
        CLAIM_ARGS,
        ("release", LEASE),
        ("get_chunk", "r", 3),
        LOOK,
        CLAIM_ARGS,
        ("outcomes", "r", 3),
    ]


async def test_the_heartbeat_renews_every_third_of_the_lease(sleeps: list[float]) -> None:
    journal = ScriptedJournal(GRANTED)

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        await journal.renewed.wait()
        await anyio.lowlevel.checkpoint()
        return WORKED, True

    assert await leased(journal, work, ttl_s=0.3) == (WORKED, True)
    # Each renewal renews the lease the one before gave; the end is written with the last.
    renewals = journal.named("renew")
    assert renewals == [
        ("renew", Lease("r", 3, "me", 5, 100.0 + n), 0.3) for n in range(len(renewals))
    ]
    [(_, written, outcomes)] = journal.named("mark_done")
    assert outcomes == WORKED
    assert written in [Lease("r", 3, "me", 5, 101.0 + n) for n in range(len(renewals))]
    assert sleeps == [pytest.approx(0.1)] * len(sleeps)


async def test_a_renewal_refused_stops_the_work_even_when_it_finishes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = ScriptedJournal(GRANTED, FINAL)
    journal.renew_fails = True

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        with anyio.CancelScope(shield=True):  # finishes although the heartbeat cancels it
            await journal.renewed.wait()
        return WORKED, True

    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        assert await leased(journal, work, ttl_s=0.03) == (STORED, True)
    assert caplog.messages == [
        "lost entry 3 of run r: the lease on entry 3 lapsed while working on it"
    ]


@pytest.mark.parametrize("cancelled", [True, False])
async def test_a_failing_or_cancelled_work_releases_the_entry_at_once(cancelled: bool) -> None:
    journal = ScriptedJournal(GRANTED)

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        if cancelled:
            await anyio.sleep_forever()
        raise ValueError("broken")

    with anyio.move_on_after(0.05 if cancelled else 5) as scope:
        if cancelled:
            await leased(journal, work)
        else:
            with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="broken")):
                await leased(journal, work)
    assert scope.cancelled_caught == cancelled
    assert journal.calls == [LOOK, CLAIM_ARGS, ("release", LEASE)]


class FakeFleet:
    """Hands ``claim`` on (or answers ``answer``) and keeps the lease it is asked to hold."""

    def __init__(self, answer: list[ItemOutcome] | None = None) -> None:
        self.answer = answer
        self.claims: list[tuple[Any, ...]] = []
        self.held: list[Any] = []
        self.holding_now = anyio.Event()

    async def claim(
        self,
        index: int,
        digest: str,
        claim: Callable[[], Awaitable[Claim]],
        on_wait: Callable[[], None] | None,
        on_ready: Callable[[], Awaitable[None]] | None,
    ) -> Claim | list[ItemOutcome]:
        self.claims.append((index, digest, on_wait, on_ready))
        if self.answer is not None:
            return self.answer
        return await claim()

    @contextmanager
    def holding(
        self,
        index: int,
        lease: Callable[[], Lease],
        renewed: Callable[[Lease], None],
        lost: Callable[[], None],
    ) -> Iterator[None]:
        self.held.append((index, lease, renewed, lost))
        self.holding_now.set()
        yield


def on_wait() -> None:
    raise AssertionError("not called by the fake fleet")


async def on_ready() -> None:
    raise AssertionError("not called by the fake fleet")


async def test_a_fleet_claims_with_the_journals_claim_and_its_callbacks() -> None:
    journal = ScriptedJournal(FINAL)
    fleet = FakeFleet()  # the fleet's survey reads the entries, not run_leased
    result = await leased(journal, final_work, fleet=fleet, on_wait=on_wait, on_ready=on_ready)
    assert result == (STORED, True)
    assert fleet.claims == [(3, "d", on_wait, on_ready)]
    assert journal.calls == [CLAIM_ARGS, ("outcomes", "r", 3)]


async def test_a_fleet_that_found_the_entry_done_gives_its_outcomes() -> None:
    journal = ScriptedJournal()
    assert await leased(journal, final_work, fleet=FakeFleet(WORKED)) == (WORKED, True)
    assert journal.calls == []


async def test_the_fleet_renews_the_held_lease() -> None:
    journal = ScriptedJournal(GRANTED)
    fleet = FakeFleet()
    renewed = Lease("r", 3, "me", 5, 200.0)

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        await fleet.holding_now.wait()
        [(index, lease, renew, _lost)] = fleet.held
        assert (index, lease()) == (3, LEASE)
        renew(renewed)
        assert held.lease == lease() == renewed
        return WORKED, True

    assert await leased(journal, work, fleet=fleet) == (WORKED, True)
    assert journal.named("mark_done") == [("mark_done", renewed, WORKED)]
    assert journal.named("renew") == []  # the fleet renews, not a heartbeat of our own


async def test_a_lease_the_fleet_lost_stops_the_work(caplog: pytest.LogCaptureFixture) -> None:
    journal = ScriptedJournal(GRANTED, FINAL)
    fleet = FakeFleet()

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        await fleet.holding_now.wait()
        fleet.held[0][3]()  # lost
        assert held.lost
        await anyio.sleep_forever()
        raise AssertionError("cancelled before")

    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        assert await leased(journal, work, fleet=fleet) == (STORED, True)
    assert caplog.messages == [
        "lost entry 3 of run r: the lease on entry 3 lapsed while working on it"
    ]


async def test_a_lease_the_fleet_lost_after_the_work_ended_is_no_loss() -> None:
    journal = ScriptedJournal(GRANTED)
    fleet = FakeFleet()

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        await fleet.holding_now.wait()
        held.settling = True
        fleet.held[0][3]()
        assert not held.lost
        return WORKED, True

    assert await leased(journal, work, fleet=fleet) == (WORKED, True)


async def test_slow_renewals_are_logged_and_then_refused(caplog: pytest.LogCaptureFixture) -> None:
    journal = ScriptedJournal()
    held = Held(LEASE)
    ticks = iter(range(0, 100, 5))
    with (
        caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"),
        pytest.raises(LeaseLostError) as caught,
    ):
        await renew_before_send(journal, held, 10.0, lambda: float(next(ticks)))  # type: ignore[arg-type]
    assert str(caught.value) == (
        "the journal took longer than 5.0 s to renew the lease on entry 3 3 times in a row; "
        "not sending on a stale lease"
    )
    assert (
        caplog.messages
        == ["renewing entry 3 of run r took longer than 5.0 s: renewing again before sending"] * 3
    )
    assert [call[2] for call in journal.named("renew")] == [10.0] * 3


async def test_a_timely_renewal_is_done_once_whatever_the_clock_reads() -> None:
    journal = ScriptedJournal()
    held = Held(LEASE)
    await renew_before_send(journal, held, 10.0, lambda: 1e6)  # type: ignore[arg-type]
    assert journal.named("renew") == [("renew", LEASE, 10.0)]
    assert held.lease == Lease("r", 3, "me", 5, 101.0)


def other_worker(token: int, expires: float, owner: str = "other", digest: str = "d") -> Any:
    return ChunkRecord(
        index=3,
        key="k",
        digest=digest,
        state="planned",
        owner=owner,
        lease_token=token,
        lease_expires_at=expires,
    )


async def test_another_workers_lease_is_claimed_once_seen_unrenewed_for_a_lease_time(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our monotonic clock advances only by the recorded waits; the journal's expiry (long
    # past) is not trusted: only a lease seen unchanged for ttl_s of our own time is claimed.
    class Clock:
        def __getattr__(self, name: str) -> Any:
            return (lambda: sum(sleeps)) if name == "current_time" else getattr(anyio, name)

    monkeypatch.setattr(_lease_watch, "anyio", Clock())
    a, renewed = other_worker(1, 5.0), other_worker(1, 6.0)
    # Seen at 0 and 0.5, renewed (a later end) at 1.0: watched again from 1.0 until 3.0.
    journal = ScriptedJournal(FINAL, chunk=[a, a, renewed, renewed, renewed, renewed, renewed])
    waits: list[None] = []
    result = await leased(journal, final_work, ttl_s=2.0, on_wait=lambda: waits.append(None))
    assert result == (STORED, True)
    assert sleeps == [0.5] * 6  # a quarter of the lease (at most a second) between looks
    assert waits == [None]
    claim = ("claim", "r", 3, {"key": "k", "digest": "d", "owner": "me", "ttl_s": 2.0})
    assert journal.calls == [LOOK] * 7 + [claim, ("outcomes", "r", 3)]


@pytest.mark.parametrize(
    "record",
    [
        None,
        DONE,
        other_worker(1, 5.0, owner="me"),  # ours (a restarted worker of the same name)
        other_worker(1, 5.0, digest="x"),  # other input: the claim refuses it at once
        ChunkRecord(index=3, key="k", digest="d", state="planned"),  # nobody holds it
    ],
)
async def test_an_entry_not_another_workers_is_claimed_at_once(
    sleeps: list[float], record: ChunkRecord | None
) -> None:
    journal = ScriptedJournal(FINAL, chunk=record)
    assert await leased(journal, final_work, on_wait=on_wait) == (STORED, True)
    assert sleeps == []
    assert journal.calls == [LOOK, CLAIM_ARGS, ("outcomes", "r", 3)]


async def test_a_release_on_the_way_out_is_bounded_and_never_replaces_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Away(ScriptedJournal):
        async def release(self, lease: Lease) -> None:
            self.calls.append(("release", lease))
            await anyio.sleep_forever()

    class Broken(ScriptedJournal):
        async def release(self, lease: Lease) -> None:
            self.calls.append(("release", lease))
            raise OSError("disk gone")

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        raise ValueError("broken")

    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        for journal in (Away(GRANTED), Broken(GRANTED)):
            before = anyio.current_time()
            with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="broken")):
                await leased(journal, work, ttl_s=0.3)
            # A third of the lease given to the release (the exact bound is pinned below;
            # here the real wait, with room for a loaded machine).
            took = anyio.current_time() - before
            assert (0.1 <= took < 1.0) if isinstance(journal, Away) else took < 1.0
            assert journal.calls == [
                LOOK,
                ("claim", "r", 3, {**CLAIM_ARGS[3], "ttl_s": 0.3}),
                ("release", LEASE),
            ]
    assert caplog.messages == [
        "entry 3 of run r not released (the journal did not answer); its lease lapses in 0.3 s",
        "entry 3 of run r not released (OSError: disk gone); its lease lapses in 0.3 s",
    ]


async def test_a_long_lease_is_watched_a_second_at_a_time(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Clock:
        def __getattr__(self, name: str) -> Any:
            return (lambda: sum(sleeps)) if name == "current_time" else getattr(anyio, name)

    monkeypatch.setattr(_lease_watch, "anyio", Clock())
    journal = ScriptedJournal(FINAL, chunk=other_worker(1, 5.0))
    assert await leased(journal, final_work, ttl_s=8.0) == (STORED, True)
    assert sleeps == [1.0] * 8


@pytest.mark.parametrize(("ttl_s", "bound"), [(30.0, 5.0), (12.0, 4.0)])
async def test_the_release_on_the_way_out_waits_a_third_of_the_lease_at_most_5_s(
    monkeypatch: pytest.MonkeyPatch, ttl_s: float, bound: float
) -> None:
    bounds: list[float] = []

    def move_on_after(delay: float) -> anyio.CancelScope:
        bounds.append(delay)
        return anyio.move_on_after(delay)

    class Anyio:
        def __getattr__(self, name: str) -> Any:
            return move_on_after if name == "move_on_after" else getattr(anyio, name)

    monkeypatch.setattr(_lease, "anyio", Anyio())

    async def work(record: ChunkRecord, held: Held) -> tuple[list[ItemOutcome], bool]:
        raise ValueError("broken")

    journal = ScriptedJournal(GRANTED)
    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="broken")):
        await leased(journal, work, ttl_s=ttl_s)
    assert bounds == [bound]
    assert journal.named("release") == [("release", LEASE)]


END_CLAIM = {"digest": END_DIGEST, "owner": "me", "ttl_s": 7.0}


@pytest.mark.parametrize("granted", [True, False])
async def test_an_input_end_of_other_content_is_refused(granted: bool) -> None:
    # Recorded with another input's fingerprint (the record's key "k"): refused, and a lease
    # granted for the look is given back.
    journal = ScriptedJournal(GRANTED if granted else held_by_other(1.0))
    with pytest.raises(JournalMismatchError) as caught:
        await record_input_end(journal, "r", 3, "me", 7.0, fingerprint="fp")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "journal: run 'r' was recorded with other input (other items or order, as many chunks); "
        "resume "
        "with the same input, or start a new run with another run_id"
    )
    assert caught.value.field == "journal"
    claim = ("claim", "r", 3, {"key": f"{END_KEY}:fp", **END_CLAIM})
    assert journal.calls == ([claim, ("release", LEASE)] if granted else [claim])


@pytest.mark.parametrize("recorded", [f"{END_KEY}:fp", END_KEY])
async def test_an_input_end_of_the_same_or_unknown_content_is_recorded(recorded: str) -> None:
    # The same fingerprint, or an end recorded without one (an older run): accepted.
    mine = ChunkRecord(index=3, key=recorded, digest=END_DIGEST, state="planned", owner="me")
    journal = ScriptedJournal(Claim(record=mine, lease=LEASE))
    await record_input_end(journal, "r", 3, "me", 7.0, fingerprint="fp")  # type: ignore[arg-type]
    claim = ("claim", "r", 3, {"key": f"{END_KEY}:fp", **END_CLAIM})
    assert journal.calls == [claim, ("mark_done", LEASE, [])]
