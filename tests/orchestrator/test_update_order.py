"""The caller's order of updates holds when an update create's answer is lost.

Update batches carry no Idempotency-Key: after a lost answer the chunk is sent again, and the
first batch (the orphan) may still be queued on the server, invisible to the client. A later
chunk updating the same data ids must not overtake it: it waits ``orphan_window`` after the
earlier chunk settled. These tests make the orphan slow (the simulator's batch timings are
frozen when a batch is created) and everything after it fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import MemoryJournal
from ica_tapis_async.simulator import Simulator, SimulatorConfig

from .helpers import orchestrator
from .test_stale_lease import X, ordered_updates

FAST = ita.RetryPolicy(max_attempts=6, total_timeout=60, initial_backoff=0.01, max_backoff=0.05)
#: Each status step of the orphan batch: it applies about three steps after its creation.
SLOW_STEP = 0.4


def slow_orphan(sim: Simulator) -> Callable[[float], object]:
    """The client's sleep before it retries the lost create: from now on batches are fast
    and answers arrive, so the retried chunk and the next one finish before the orphan."""

    async def sleep(seconds: float) -> None:
        sim.configure(p_drop_after_post=0.0, step_s=0.005)
        await anyio.sleep(seconds)

    return sleep


def lossy() -> Simulator:
    """The first update create is processed, slowly, and its answer lost."""
    return Simulator(
        SimulatorConfig.faithful(
            seed=71,
            p_drop_after_post=1.0,
            step_s=SLOW_STEP,
            fault_operations={"createProjectDataUpdateBatch"},
        )
    )


async def test_a_later_update_waits_out_the_orphan_of_a_lost_answer() -> None:
    """Add a tag, then remove it; the add's answer is lost and its orphan is slow: the remove
    still comes last, so the data ends without the tag."""
    async with lossy() as sim:
        sleep = slow_orphan(sim)
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=FAST, sleep=sleep) as ica:  # type: ignore[arg-type]
            orch = orchestrator(ica, batch_size=1, orphan_window=4 * SLOW_STEP)
            started = time.monotonic()
            with anyio.fail_after(30):
                report = await orch.update(ordered_updates())
            elapsed = time.monotonic() - started
        await anyio.sleep(4 * SLOW_STEP)  # long after the orphan's end
        tags = sim.data(X)["details"]["tags"]["userTags"]
        batches = sim.stats.batches.get("update")
    assert report.counts == {"UPDATED": 2}
    assert report.resubmitted == 1
    assert batches == 3  # the orphan, its re-send, the next chunk
    assert tags == []  # the remove came after the orphan's add
    assert elapsed >= 4 * SLOW_STEP


async def test_chunks_that_share_no_id_with_a_lost_one_do_not_wait() -> None:
    """The wait is only for later chunks touching the lost chunk's data ids."""
    groups = [
        ita.DataUpdateGroup([X], user_tags=ita.TagUpdate(add_tags=["t"])),
        ita.DataUpdateGroup(["fil." + "b" * 30], user_tags=ita.TagUpdate(add_tags=["u"])),
    ]
    async with lossy() as sim:
        sleep = slow_orphan(sim)
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=FAST, sleep=sleep) as ica:  # type: ignore[arg-type]
            orch = orchestrator(ica, batch_size=1, orphan_window=60.0)
            with anyio.fail_after(30):
                report = await orch.update(groups)
    assert report.counts == {"UPDATED": 2}


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "5", True, None])
def test_a_bad_orphan_window_is_refused(bad: object) -> None:
    with pytest.raises(ita.RequestValidationError, match="orphan_window"):
        ita.BatchOrchestrator(None, "p", orphan_window=bad)  # type: ignore[arg-type]


def test_an_orphan_window_of_zero_turns_the_wait_off() -> None:
    assert ita.BatchOrchestrator(None, "p", orphan_window=0).orphan_window == 0.0  # type: ignore[arg-type]


async def test_a_resumed_run_waits_out_the_orphan_of_the_last_run() -> None:
    """The lost answer ends the first run (no retries): the add is IN_DOUBT, the remove not
    sent. The next run with the journal sends the add again, then waits out the orphan
    before the remove."""
    journal = MemoryJournal()
    once = ita.RetryPolicy(max_attempts=1)
    async with lossy() as sim:
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=once) as ica:
            options = {"journal": journal, "run_id": "order", "batch_size": 1}
            with anyio.fail_after(30):
                first = await orchestrator(ica, **options, orphan_window=0).update(
                    ordered_updates()
                )
            assert first.counts == {"IN_DOUBT": 1, "NOT_SUBMITTED": 1}
            sim.configure(p_drop_after_post=0.0, step_s=0.005)
            with anyio.fail_after(30):
                second = await orchestrator(ica, **options, orphan_window=4 * SLOW_STEP).update(
                    ordered_updates()
                )
        await anyio.sleep(4 * SLOW_STEP)
        tags = sim.data(X)["details"]["tags"]["userTags"]
    assert second.counts == {"UPDATED": 2}
    assert tags == []
