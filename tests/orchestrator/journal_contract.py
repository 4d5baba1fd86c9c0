"""The conformance suite every :class:`Journal` backend passes.

Use it by subclassing :class:`JournalContract` in a ``test_*.py`` module and defining the
``open_journal`` fixture: an async callable that opens a *new handle* on one fresh store per
test (two calls in one test must reach the same data, as two processes would). Handles are
closed by the suite. Lease expiry is tested with real short leases (``SHORT_TTL``), so the
backend may use its own clock (a database's ``now()``).

    class TestMyJournal(JournalContract):
        @pytest.fixture
        def open_journal(self, tmp_path): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import (
    Journal,
    JournalMismatchError,
    Lease,
    LeaseLostError,
)
from ica_tapis_async.orchestrator._journal_protocol import END_DIGEST, END_KEY

OpenJournal = Callable[[], Awaitable[Journal]]
SHORT_TTL = 0.3
LONG_TTL = 60.0


def outcome(key: str, status: str = "LINKED", ok: bool = True, **extra: object) -> ita.ItemOutcome:
    """An outcome of a link chunk."""
    return ita.ItemOutcome(kind="link", key=key, status=status, ok=ok, **extra)  # type: ignore[arg-type]


class JournalContract:
    """Claims, fencing, atomic outcomes, run identity, first-sent time and flags."""

    @pytest.fixture
    async def journals(self, open_journal: OpenJournal) -> AsyncIterator[OpenJournal]:
        """Opens handles and closes them after the test."""
        opened: list[Journal] = []

        async def make() -> Journal:
            journal = await open_journal()
            opened.append(journal)
            return journal

        yield make
        for journal in opened:
            await journal.aclose()

    async def _run(self, journal: Journal, run_id: str = "run-1") -> str:
        return (await journal.open_run("link", "proj", run_id, "fp-1")).run_id

    async def _lease(self, journal: Journal, owner: str = "a", index: int = 0) -> Lease:
        claim = await journal.claim(
            "run-1", index, key=f"key-{index}", digest=f"d{index}", owner=owner, ttl_s=LONG_TTL
        )
        assert claim.lease is not None
        return claim.lease

    # -- runs -----------------------------------------------------------------------------------

    async def test_open_run_without_id_agrees_between_handles(self, journals: OpenJournal) -> None:
        """Two handles opening without a run id on an empty store get one run, not two."""
        one, two = await journals(), await journals()
        runs: list[str] = []

        async def open_one(journal: Journal) -> None:
            runs.append((await journal.open_run("link", "proj", None, "fp")).run_id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(open_one, one)
            tg.start_soon(open_one, two)
        assert len(set(runs)) == 1
        assert len(runs[0]) == 16

    async def test_open_run_keeps_identity(self, journals: OpenJournal) -> None:
        """A named run is found again; other kind, project or fingerprint is a mismatch."""
        journal = await journals()
        first = await journal.open_run("link", "proj", "r", "fp")
        again = await journal.open_run("link", "proj", "r", "fp")
        assert again.run_id == "r"
        assert again.started_at == first.started_at
        assert (first.kind, first.project_id, first.fingerprint) == ("link", "proj", "fp")
        for args in (("update", "proj", "fp"), ("link", "other", "fp"), ("link", "proj", "x")):
            with pytest.raises(JournalMismatchError):
                await journal.open_run(args[0], args[1], "r", args[2])
        other = await journal.open_run("link", "proj", None, "fp-2")
        assert other.run_id != "r"
        assert (await journal.open_run("link", "proj", None, "fp")).run_id == "r"

    async def test_finish_run_is_kept_once(self, journals: OpenJournal) -> None:
        """``finished_at`` is set by the first finish and not moved later."""
        journal = await journals()
        await self._run(journal)
        await journal.finish_run("run-1")
        first = await journal.get_run("run-1")
        assert first is not None
        assert first.finished_at is not None
        await anyio.sleep(0.01)
        await journal.finish_run("run-1")
        assert await journal.get_run("run-1") == first
        assert await journal.get_run("nope") is None

    # -- claims ---------------------------------------------------------------------------------

    async def test_first_claim_creates_a_planned_chunk(self, journals: OpenJournal) -> None:
        """A fresh chunk is planned, token 1, owned by the claimer."""
        journal = await journals()
        await self._run(journal)
        claim = await journal.claim("run-1", 3, key="k", digest="d", owner="a", ttl_s=LONG_TTL)
        assert claim.granted
        assert claim.lease is not None
        record = claim.record
        assert (record.index, record.key, record.digest, record.state) == (3, "k", "d", "planned")
        assert (record.attempts, record.first_sent_at, record.batch_id) == (0, None, None)
        assert record.owner == "a"
        assert claim.lease.token == record.lease_token >= 1
        assert not (record.resubmitted)
        assert not (record.in_doubt)
        assert not (record.final)
        assert await journal.get_chunk("run-1", 3) is not None
        assert await journal.get_chunk("run-1", 4) is None

    async def test_one_holder_at_a_time(self, journals: OpenJournal) -> None:
        """A held chunk is refused to others and re-granted to its holder with the same token."""
        one, two = await journals(), await journals()
        await self._run(one)
        lease = await self._lease(one, "a")
        refused = await two.claim("run-1", 0, key="key-0", digest="d0", owner="b", ttl_s=LONG_TTL)
        assert not refused.granted
        assert refused.record.owner == "a"
        assert refused.record.lease_expires_at is not None
        again = await one.claim("run-1", 0, key="key-0", digest="d0", owner="a", ttl_s=LONG_TTL)
        assert again.lease is not None
        assert again.lease.token == lease.token

    async def test_concurrent_claims_grant_one(self, journals: OpenJournal) -> None:
        """Many handles claiming one chunk at once: exactly one wins."""
        handles = [await journals() for _ in range(4)]
        await self._run(handles[0])
        granted: list[str] = []

        async def claim(journal: Journal, owner: str) -> None:
            c = await journal.claim("run-1", 0, key="k", digest="d", owner=owner, ttl_s=LONG_TTL)
            if c.granted:
                granted.append(owner)

        async with anyio.create_task_group() as tg:
            for i, handle in enumerate(handles):
                tg.start_soon(claim, handle, f"w{i}")
        assert len(granted) == 1

    async def test_expired_lease_is_taken_over_and_fenced(self, journals: OpenJournal) -> None:
        """After expiry another owner claims with a higher token; the old lease can't write."""
        one, two = await journals(), await journals()
        await self._run(one)
        first = await one.claim("run-1", 0, key="k", digest="d", owner="a", ttl_s=SHORT_TTL)
        assert first.lease is not None
        await one.mark_sending(first.lease)
        await anyio.sleep(SHORT_TTL + 0.2)
        second = await two.claim("run-1", 0, key="k", digest="d", owner="b", ttl_s=LONG_TTL)
        assert second.lease is not None
        assert second.lease.token > first.lease.token
        assert second.record.state == "sending"
        assert second.record.attempts == 1
        for write in (
            one.mark_sending(first.lease),
            one.mark_submitted(first.lease, "batch-x"),
            one.mark_resubmitted(first.lease),
            one.mark_in_doubt(first.lease),
            one.mark_done(first.lease, [outcome("x")]),
            one.renew(first.lease, LONG_TTL),
        ):
            with pytest.raises(LeaseLostError):
                await write
        await one.release(first.lease)  # a stale release must not free b's claim
        record = await two.get_chunk("run-1", 0)
        assert record is not None
        assert record.owner == "b"
        assert record.batch_id is None

    async def test_an_expired_lease_nobody_claimed_still_writes(
        self, journals: OpenJournal
    ) -> None:
        """Only a claim ends a lease: a lapsed one nobody took is still current (a forward
        step of the journal's clock lapses a live holder's lease), and a claim fences it."""
        one, two = await journals(), await journals()
        await self._run(one)
        claim = await one.claim("run-1", 0, key="k", digest="d", owner="a", ttl_s=SHORT_TTL)
        assert claim.lease is not None
        await anyio.sleep(SHORT_TTL + 0.2)
        sending = await one.mark_sending(claim.lease)
        assert (sending.owner, sending.lease_token, sending.attempts) == ("a", claim.lease.token, 1)
        renewed = await one.renew(claim.lease, SHORT_TTL)
        assert renewed.token == claim.lease.token
        await anyio.sleep(SHORT_TTL + 0.2)
        taken = await two.claim("run-1", 0, key="k", digest="d", owner="b", ttl_s=LONG_TTL)
        assert taken.lease is not None
        assert taken.lease.token == claim.lease.token + 1
        with pytest.raises(LeaseLostError):
            await one.mark_sending(renewed)

    async def test_renew_extends_and_release_frees(self, journals: OpenJournal) -> None:
        """A heartbeat keeps the chunk; a release lets another owner claim it at once."""
        one, two = await journals(), await journals()
        await self._run(one)
        claim = await one.claim("run-1", 0, key="k", digest="d", owner="a", ttl_s=SHORT_TTL)
        assert claim.lease is not None
        renewed = await one.renew(claim.lease, LONG_TTL)
        assert renewed.token == claim.lease.token
        assert renewed.expires_at > claim.lease.expires_at
        await anyio.sleep(SHORT_TTL + 0.2)
        busy = await two.claim("run-1", 0, key="k", digest="d", owner="b", ttl_s=LONG_TTL)
        assert not busy.granted
        await one.release(renewed)
        taken = await two.claim("run-1", 0, key="k", digest="d", owner="b", ttl_s=LONG_TTL)
        assert taken.lease is not None
        assert taken.lease.token > renewed.token

    async def test_other_digest_is_a_mismatch(self, journals: OpenJournal) -> None:
        """A chunk recorded with one digest refuses another (other input)."""
        journal = await journals()
        await self._run(journal)
        await self._lease(journal)
        with pytest.raises(JournalMismatchError, match="other input"):
            await journal.claim("run-1", 0, key="k", digest="zz", owner="a", ttl_s=LONG_TTL)

    async def test_bad_claims_are_refused(self, journals: OpenJournal) -> None:
        """A non-positive ttl or an unknown run is a ValueError."""
        journal = await journals()
        await self._run(journal)
        with pytest.raises(ValueError, match="ttl"):
            await journal.claim("run-1", 0, key="k", digest="d", owner="a", ttl_s=0)
        with pytest.raises(ValueError, match="nope"):
            await journal.claim("nope", 0, key="k", digest="d", owner="a", ttl_s=LONG_TTL)

    # -- state changes --------------------------------------------------------------------------

    async def test_sending_records_first_sent_once_and_flags_resends(
        self, journals: OpenJournal
    ) -> None:
        """``first_sent_at`` is set once; a second send marks the chunk resubmitted."""
        journal = await journals()
        await self._run(journal)
        lease = await self._lease(journal)
        first = await journal.mark_sending(lease)
        assert first.state == "sending"
        assert first.attempts == 1
        assert first.first_sent_at is not None
        assert not first.resubmitted
        await anyio.sleep(0.01)
        second = await journal.mark_sending(lease)
        assert second.attempts == 2
        assert second.first_sent_at == first.first_sent_at
        assert second.resubmitted

    async def test_an_unsent_attempt_is_taken_back(self, journals: OpenJournal) -> None:
        """``mark_unsent`` takes back the attempt it names (a create that never connected):
        the first one leaves the chunk planned, unsent; a repeat or a stale number changes
        nothing; an earlier attempt that may have been sent keeps the chunk sending."""
        journal = await journals()
        await self._run(journal)
        lease = await self._lease(journal)
        sent = await journal.mark_sending(lease)
        back = await journal.mark_unsent(lease, sent.attempts)
        assert (back.state, back.attempts, back.first_sent_at) == ("planned", 0, None)
        assert not back.resubmitted
        assert await journal.mark_unsent(lease, sent.attempts) == back  # repeated: no change
        again = await journal.mark_sending(lease)
        assert (again.attempts, again.resubmitted) == (1, False)
        third = await journal.mark_sending(lease)
        assert (third.attempts, third.resubmitted) == (2, True)
        kept = await journal.mark_unsent(lease, third.attempts)
        assert (kept.state, kept.attempts) == ("sending", 1)
        assert kept.first_sent_at == again.first_sent_at
        assert kept.resubmitted
        assert await journal.mark_unsent(lease, 5) == kept  # not the last attempt: no change
        await journal.release(lease)
        other = await journal.claim("run-1", 0, key="key-0", digest="d0", owner="b", ttl_s=1.0)
        assert other.lease is not None
        with pytest.raises(LeaseLostError):
            await journal.mark_unsent(lease, 1)

    async def test_flags_and_submission(self, journals: OpenJournal) -> None:
        """in_doubt is set and cleared by a submission; resubmitted is sticky."""
        journal = await journals()
        await self._run(journal)
        lease = await self._lease(journal)
        await journal.mark_sending(lease)
        await journal.mark_in_doubt(lease)
        await journal.mark_resubmitted(lease)
        record = await journal.get_chunk("run-1", 0)
        assert record is not None
        assert record.in_doubt
        assert record.resubmitted
        await journal.mark_submitted(lease, "batch-1")
        record = await journal.get_chunk("run-1", 0)
        assert record is not None
        assert record.state == "submitted"
        assert record.batch_id == "batch-1"
        assert not record.in_doubt
        assert record.resubmitted

    async def test_done_is_final_with_outcomes_in_order(self, journals: OpenJournal) -> None:
        """Outcomes round-trip in order; a done chunk is never granted again."""
        one, two = await journals(), await journals()
        await self._run(one)
        lease = await self._lease(one)
        await one.mark_sending(lease)
        await one.mark_submitted(lease, "b-1")
        stored = [
            outcome("z", batch_id="b-1", chunk=0),
            outcome(
                "a", "FAILED", False, info="bad", batch_id="b-1", item_id="i", chunk=0,
                resubmitted=True, analysis_id="an-1",
            ),
        ]  # fmt: skip
        await one.mark_done(lease, stored)
        assert await two.outcomes("run-1", 0) == stored
        claim = await two.claim("run-1", 0, key="key-0", digest="d0", owner="b", ttl_s=LONG_TTL)
        assert not claim.granted
        assert claim.record.final
        assert claim.record.owner is None
        with pytest.raises(LeaseLostError):
            await one.mark_done(lease, [])
        assert await two.outcomes("run-1", 1) == []

    async def test_many_outcomes(self, journals: OpenJournal) -> None:
        """A 25,000-item chunk stores and reads back whole."""
        journal = await journals()
        await self._run(journal)
        lease = await self._lease(journal)
        stored = [outcome(f"fil.{i}", chunk=0) for i in range(25_000)]
        await journal.mark_done(lease, stored)
        assert await journal.outcomes("run-1", 0) == stored

    async def test_chunks_lists_the_run(self, journals: OpenJournal) -> None:
        """``chunks`` returns every record of the run by index, and only that run's."""
        journal = await journals()
        await self._run(journal)
        await self._run(journal, "run-2")
        for index in (2, 0, 1):
            await self._lease(journal, index=index)
        await journal.claim("run-2", 0, key="k", digest="d", owner="a", ttl_s=LONG_TTL)
        assert [c.index for c in await journal.chunks("run-1")] == [0, 1, 2]
        assert [c.index for c in await journal.chunks("run-2")] == [0]

    # -- end of input ---------------------------------------------------------------------------

    async def _end(self, journal: Journal, index: int, owner: str = "a") -> bool:
        """Claim the end-of-input entry at ``index`` and mark it done; whether it was granted."""
        claim = await journal.claim(
            "run-1", index, key=END_KEY, digest=END_DIGEST, owner=owner, ttl_s=LONG_TTL
        )
        if claim.lease is not None:
            await journal.mark_done(claim.lease, [])
        return claim.granted

    async def test_end_of_input_refuses_a_longer_or_shorter_input(
        self, journals: OpenJournal
    ) -> None:
        """After an end at 2, a chunk at 2 or past it is refused, and so is an end at 1; the
        same end again is done, and the entry is not one of the run's chunks."""
        one, two = await journals(), await journals()
        await self._run(one)
        for index in (0, 1):
            await one.mark_done(await self._lease(one, index=index), [outcome(f"k{index}")])
        assert await self._end(one, 2)
        for index in (2, 3):
            with pytest.raises(JournalMismatchError, match="ended after 2 chunks; this input has"):
                await two.claim("run-1", index, key="k", digest="dx", owner="b", ttl_s=LONG_TTL)
        with pytest.raises(JournalMismatchError, match="has more than 1 chunk; this input ends"):
            await self._end(two, 1, owner="b")
        assert not await self._end(two, 2, owner="b")  # the same end: done already
        assert [c.index for c in await two.chunks("run-1")] == [0, 1]
        assert await two.get_chunk("run-1", 3) is None  # the refused claim left nothing
        end = await two.get_chunk("run-1", 2)
        assert end is not None
        assert end.final
        assert await two.outcomes("run-1", 2) == []

    async def test_an_end_and_a_longer_input_racing_never_both_win(
        self, journals: OpenJournal
    ) -> None:
        """An end at 1 and a new chunk at 2 claimed at once by two handles: one is refused."""
        one, two = await journals(), await journals()
        refused: list[str] = []

        async def attempt(claim: Awaitable[object]) -> None:
            try:
                await claim
            except JournalMismatchError as exc:
                refused.append(str(exc))

        for round_ in range(15):
            run_id = f"race-{round_}"
            await one.open_run("link", "proj", run_id, "fp-1")
            refused.clear()
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    attempt,
                    one.claim(run_id, 1, key=END_KEY, digest=END_DIGEST, owner="a", ttl_s=LONG_TTL),
                )
                tg.start_soon(
                    attempt, two.claim(run_id, 2, key="k", digest="d2", owner="b", ttl_s=LONG_TTL)
                )
            assert len(refused) == 1, (round_, refused)
