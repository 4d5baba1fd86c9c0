"""Adversarial checks of the update order after lost answers (issue 19 point 3)."""

from __future__ import annotations

import anyio

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import MemoryJournal

from .helpers import orchestrator
from .test_stale_lease import X, ordered_updates
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
