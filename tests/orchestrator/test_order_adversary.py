"""Adversarial checks of the update order after lost answers (issue 19 point 3)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Lease, MemoryJournal, _lease
from ica_tapis_async.orchestrator._run_state import Gate, forget_past
from ica_tapis_async.simulator import Simulator, SimulatorConfig

from .helpers import PROJECT, orchestrator
from .test_stale_lease import ORDERED, TAKER, TTL, JournalClock, X, make_journal, ordered_updates
from .test_transfers import request
from .test_update_order import FAST, SLOW_STEP, lossy, slow_orphan


async def test_a_later_update_waits_for_the_orphan_with_one_batch_in_flight() -> None:
    """With one batch in flight the remove is read from the input only after the add settled:
    it must still wait out the add's orphan."""
    async with lossy() as sim:
        sleep = slow_orphan(sim)
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=FAST, sleep=sleep) as ica:  # type: ignore[arg-type]
            orch = orchestrator(
                ica, batch_size=1, max_inflight_batches=1, orphan_window=4 * SLOW_STEP
            )
            with anyio.fail_after(30):
                report = await orch.update(ordered_updates())
        await anyio.sleep(4 * SLOW_STEP)
        tags = sim.data(X)["details"]["tags"]["userTags"]
    assert report.counts == {"UPDATED": 2}
    assert report.resubmitted == 1
    assert tags == []


async def test_replaying_a_finished_run_does_not_wait_out_an_old_orphan() -> None:
    """A finished run called again is replayed from the journal: nothing is sent, so nothing
    waits for the orphan of a lost answer that settled in the first run."""
    journal = MemoryJournal()
    async with lossy() as sim:
        sleep = slow_orphan(sim)
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=FAST, sleep=sleep) as ica:  # type: ignore[arg-type]
            options = {"journal": journal, "run_id": "order", "batch_size": 1}
            with anyio.fail_after(30):
                first = await orchestrator(ica, **options, orphan_window=4 * SLOW_STEP).update(
                    ordered_updates()
                )
            assert first.resubmitted == 1
            with anyio.fail_after(5):
                again = await orchestrator(ica, **options, orphan_window=300).update(
                    ordered_updates()
                )
    assert again.counts == first.counts == {"UPDATED": 2}
    assert again.requests == 0


class _SlowRenewals(MemoryJournal):
    """A journal whose renewals take longer than half the lease: nothing may be sent on them."""

    slow = True

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        if self.slow:
            await anyio.sleep(0.75 * ttl_s)
        return await super().renew(lease, ttl_s)


async def test_a_journal_slower_than_half_the_lease_ends_the_run_unsent() -> None:
    """Renewals slower than lease_ttl/2 send nothing: the chunk is reported NOT_SUBMITTED (the
    run does not spin for ever) and the journal does not take it for sent, so the next run
    neither flags it re-sent nor waits out an orphan that never was."""
    journal = _SlowRenewals()
    async with (
        Simulator(SimulatorConfig.faithful(seed=3)) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=FAST) as ica,
    ):
        options = {"journal": journal, "run_id": "slow", "batch_size": 1, "lease_ttl": 0.2}
        with anyio.fail_after(10):
            first = await orchestrator(ica, **options).update(ordered_updates())
        record = await journal.get_chunk("slow", 0)
        assert sim.stats.batches.get("update") is None  # nothing was sent
        journal.slow = False
        with anyio.fail_after(10):
            second = await orchestrator(ica, **options, orphan_window=300).update(ordered_updates())
    assert first.counts == {"NOT_SUBMITTED": 2}
    assert "renew" in (first.failures[0].info or "")
    assert record is not None
    assert (record.state, record.attempts) == ("planned", 0)
    assert not record.resubmitted
    assert second.counts == {"UPDATED": 2}
    assert second.resubmitted == 0


async def test_a_transfer_create_whose_answer_cannot_be_read_is_adopted_by_its_tag() -> None:
    """The server created the task but its answer does not fit the model: like a lost answer,
    the task is looked up by its tag and followed, never an exception out of run()."""
    async with (
        Simulator(seed=44) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=FAST) as tapis,
    ):
        create = tapis.transfers.create

        async def unreadable(*args: Any, **kwargs: Any) -> Any:
            await create(*args, **kwargs)
            raise ita.ResponseValidationError("uuid is not a string", model="TransferTask")

        tapis.transfers.create = unreadable  # type: ignore[method-assign]
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.02)
        with anyio.fail_after(30):
            report = await orch.run([request(0)])
    assert report.counts == {"COMPLETED": 1}
    assert report.outcomes[0].recovered
    assert sim.stats.tapis_tasks == 1


async def test_a_transfer_created_without_a_uuid_in_its_answer_is_not_not_created() -> None:
    """A 2xx answer without the task's uuid: the task exists, so it is looked up by its tag and
    followed, never reported NOT_CREATED."""
    async with (
        Simulator(seed=45) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=FAST) as tapis,
    ):
        create = tapis.transfers.create

        async def without_uuid(*args: Any, **kwargs: Any) -> Any:
            task = await create(*args, **kwargs)
            return attrs.evolve(task, uuid=None)

        tapis.transfers.create = without_uuid  # type: ignore[method-assign]
        orch = ita.TransferOrchestrator(tapis, poll_initial=0.02)
        with anyio.fail_after(30):
            report = await orch.run([request(0)])
    assert report.counts == {"COMPLETED": 1}
    assert report.outcomes[0].recovered
    assert sim.stats.tapis_tasks == 1


async def test_a_transfer_run_on_a_journal_slower_than_half_the_lease_ends_unsent() -> None:
    """Renewals slower than lease_ttl/2 create no task: the request is NOT_CREATED and the run
    reports, instead of claiming it again for ever; the next run creates it once."""
    journal = _SlowRenewals()
    async with (
        Simulator(seed=46) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=FAST) as tapis,
    ):
        options = {"journal": journal, "run_id": "slow", "poll_initial": 0.02, "lease_ttl": 0.2}
        with anyio.fail_after(10):
            first = await ita.TransferOrchestrator(tapis, **options).run([request(0)])  # type: ignore[arg-type]
        assert sim.stats.tapis_tasks == 0
        journal.slow = False
        with anyio.fail_after(10):
            second = await ita.TransferOrchestrator(tapis, **options).run([request(0)])  # type: ignore[arg-type]
    assert first.counts == {"NOT_CREATED": 1}
    assert "renew" in (first.outcomes[0].error_message or "")
    assert second.counts == {"COMPLETED": 1}
    assert not second.outcomes[0].recovered
    assert sim.stats.tapis_tasks == 1


async def test_a_run_killed_while_its_create_waits_for_the_limiter_sent_nothing() -> None:
    """Killed while the first create waits for the client's rate limiter: nothing left, so the
    next run neither flags the chunk re-sent nor waits out an orphan that never was."""
    journal = MemoryJournal()
    options = {"journal": journal, "run_id": "limited", "batch_size": 1, "orphan_window": 300}
    slow = ita.RateLimitPolicy(rate=0.05, burst=1, adaptive=False)
    async with Simulator(SimulatorConfig.faithful(seed=4)) as sim:
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=FAST, rate_limit=slow) as ica:
            with pytest.raises(ita.APIStatusError):  # spends the only token
                await ica.data_update_batches.get(PROJECT, "nope")
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(orchestrator(ica, **options).update, ordered_updates())

                    async def sending() -> bool:
                        record = await journal.get_chunk("limited", 0)
                        return record is not None and record.owner is not None

                    while not await sending():  # noqa: ASYNC110 - the state is the journal's
                        await anyio.sleep(0.01)
                    await anyio.sleep(0.2)  # the create is waiting for the limiter now
                    tg.cancel_scope.cancel()  # the process dies here
        assert sim.stats.batches.get("update") is None
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=FAST) as ica:
            with anyio.fail_after(10):
                report = await orchestrator(ica, **options).update(ordered_updates())
    assert report.counts == {"UPDATED": 2}
    assert report.resubmitted == 0


class _BootClock:
    """Time since boot, counting a suspend (CLOCK_BOOTTIME); the monotonic clock does not."""

    def __init__(self) -> None:
        self.slept = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.slept


class _SuspendAfterRenewal:
    """The first renewal commits, then the machine is suspended (the monotonic clock stands
    still) while another worker takes the chunk over."""

    def __init__(self, inner: Any, boot: _BootClock, during: Any) -> None:
        self._inner, self._boot, self._during = inner, boot, during
        self.renewals = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        self.renewals += 1
        renewed: Lease = await self._inner.renew(lease, ttl_s)
        if self.renewals == 1:
            await self._during()
            self._boot.slept += 2 * ttl_s
        return renewed


async def test_a_worker_suspended_after_its_renewal_does_not_send(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A suspended machine (laptop sleep, a suspended VM) stops the monotonic clock: the send
    window is timed on a clock that counts the suspend too, so the stale lease is noticed."""
    journal_clock = JournalClock()
    inner = make_journal("memory", journal_clock, tmp_path)
    boot = _BootClock()
    monkeypatch.setattr(_lease, "_since_boot", boot)
    taken_over: list[ita.BatchReport] = []
    async with Simulator(seed=32, step_s=0.02) as sim:

        async def take_over() -> None:
            # The suspended worker's lease lapses; the taker (its lease_ttl short) claims it
            # once it has seen it unrenewed for that long.
            journal_clock.now += 2 * TTL
            async with ita.IcaClient(sim.ica_url, api_key="fast") as fast:
                orch = orchestrator(fast, journal=inner, run_id="suspended", **TAKER)
                taken_over.append(await orch.update(ordered_updates()))

        journal = _SuspendAfterRenewal(inner, boot, take_over)
        async with ita.IcaClient(sim.ica_url, api_key="slow") as slow:
            orch = orchestrator(slow, journal=journal, run_id="suspended", **ORDERED)
            report = await orch.update(ordered_updates())
            slow_posts = slow.metrics.requests
        batches = sim.stats.batches.get("update")
        tags = sim.data(X)["details"]["tags"]["userTags"]
    assert [r.counts for r in taken_over] == [{"UPDATED": 2}]
    assert report.counts == {"UPDATED": 2}
    assert slow_posts == 0
    assert batches == 2
    assert tags == []


async def test_a_request_cancelled_between_its_create_attempts_is_not_created() -> None:
    """The first create never reached the server; cancel() comes while the follower waits to
    try again: no task is created after the cancel, and the request stays resumable."""
    journal = MemoryJournal()
    async with (
        Simulator(seed=47, p_drop_before=1.0, fault_operations={"createTransferTask"}) as sim,
        ita.TapisClient(sim.tapis_url, token="t", retry=FAST) as tapis,
    ):
        orchs: list[ita.TransferOrchestrator] = []

        async def sleep(seconds: float) -> None:
            # Between the failed create and the next attempt: the user cancels the run.
            sim.configure(p_drop_before=0.0)
            await orchs[0].cancel()
            await anyio.sleep(seconds)

        options = {"journal": journal, "run_id": "between", "poll_initial": 0.02}
        orchs.append(ita.TransferOrchestrator(tapis, sleep=sleep, **options))  # type: ignore[arg-type]
        with anyio.fail_after(30):
            report = await orchs[0].run([request(0)])
        assert sim.stats.tapis_tasks == 0
        run = await journal.get_run("between")
        assert run is not None
        assert run.finished_at is None
        with anyio.fail_after(30):
            again = await ita.TransferOrchestrator(tapis, **options).run([request(0)])  # type: ignore[arg-type]
    assert report.counts == {"CANCELLED": 1}
    assert report.outcomes[0].uuid is None
    assert again.counts == {"COMPLETED": 1}
    assert sim.stats.tapis_tasks == 1


def test_finished_chunks_are_forgotten_once_their_orphan_window_has_passed() -> None:
    """Chunks kept for their orphan's window do not stay in memory for the rest of the run,
    and a later chunk's claim on an id is never dropped with them."""
    past, future, later = Gate(not_before=1.0), Gate(not_before=9.0), Gate()
    touching = {"a": past, "b": later, "c": future}
    lingering: deque[tuple[Gate, Sequence[str]]] = deque([(past, ["a", "b"]), (future, ["c"])])
    forget_past(lingering, touching, now=5.0)
    assert touching == {"b": later, "c": future}
    assert list(lingering) == [(future, ["c"])]
    forget_past(lingering, touching, now=10.0)
    assert touching == {"b": later}
    assert not lingering


async def test_a_repeat_of_an_item_a_stopped_job_left_pending_is_not_ok() -> None:
    """An id repeated in one batch is sent once; when the batch's job stops before it, the
    repeat is not ok either: every ok outcome is an id the server linked."""
    a, b = "fil." + "c" * 30, "fil." + "d" * 30
    config = SimulatorConfig.faithful(seed=5, stop_rate=1.0, stop_pending_share=1.0)
    async with Simulator(config) as sim, ita.IcaClient(sim.ica_url, api_key="k") as ica:
        with anyio.fail_after(30):
            report = await orchestrator(ica, poll_timeout=600).link([a, b, a])
        linked = sim.links(PROJECT)
    assert sim.stats.batches_stopped == 1
    assert not linked
    assert report.total == 3
    assert report.counts.get("DUPLICATE", 0) == 0
    assert len(report.failures) == 3


class _RenewalsHang(MemoryJournal):
    """A journal whose renewal before the first create hangs until the run is cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.hanging = anyio.Event()

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        record = await self.get_chunk(lease.run_id, lease.index)
        if record is not None and record.state == "sending":
            self.hanging.set()
            await anyio.sleep_forever()
        return await super().renew(lease, ttl_s)


async def test_a_run_cancelled_during_the_renewal_before_its_create_sent_nothing() -> None:
    """Cancelled (Ctrl-C, a consumer that leaves) while the lease is renewed right before the
    create: nothing left, and the journal does not take the chunk for sent."""
    journal = _RenewalsHang()
    async with (
        Simulator(SimulatorConfig.faithful(seed=6)) as sim,
        ita.IcaClient(sim.ica_url, api_key="k", retry=FAST) as ica,
    ):
        options = {"journal": journal, "run_id": "cancelled", "batch_size": 1}
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(orchestrator(ica, **options).update, ordered_updates())
                await journal.hanging.wait()
                tg.cancel_scope.cancel()
        assert sim.stats.batches.get("update") is None
    record = await journal.get_chunk("cancelled", 0)
    assert record is not None
    assert (record.state, record.attempts, record.resubmitted) == ("planned", 0, False)


class _FreezeAlone:
    """The first renewal before a create commits, then the worker is frozen (Ctrl-Z, SIGSTOP)
    past its lease; no other worker is there to take the chunk over."""

    def __init__(self, inner: Any, journal_clock: JournalClock, local: _BootClock) -> None:
        self._inner, self._journal_clock, self._local = inner, journal_clock, local
        self.renewals = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease:
        record = await self._inner.get_chunk(lease.run_id, lease.index)
        renewed: Lease = await self._inner.renew(lease, ttl_s)
        if record is not None and record.state == "sending" and not self.renewals:
            self.renewals += 1
            self._journal_clock.now += 2 * ttl_s
            self._local.slept += 2 * ttl_s
        return renewed


async def test_a_lone_worker_frozen_past_its_lease_sends_its_chunk_once_not_resent(
    tmp_path: Path,
) -> None:
    """Frozen between its renewal and its first create, past the lease, with nobody to take
    over: it sent nothing, so it takes the attempt back and sends the chunk once, not flagged
    re-sent (no orphan wait for the next update of the same id, no doubt)."""
    journal_clock = JournalClock()
    local = _BootClock()
    journal = _FreezeAlone(make_journal("memory", journal_clock, tmp_path), journal_clock, local)
    async with Simulator(seed=33, step_s=0.02) as sim:
        async with ita.IcaClient(sim.ica_url, api_key="k") as ica:
            orch = orchestrator(ica, journal=journal, run_id="alone", clock=local, **ORDERED)
            with anyio.fail_after(20):
                report = await orch.update(ordered_updates())
        batches = sim.stats.batches.get("update")
        tags = sim.data(X)["details"]["tags"]["userTags"]
    assert report.counts == {"UPDATED": 2}
    assert report.resubmitted == 0
    assert batches == 2
    assert tags == []
