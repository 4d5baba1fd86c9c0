"""Run identity scenarios (issue 19, points 1, 6 and 7), run against every journal backend.

Each scenario takes a running simulator, a client of it and ``journal``: what the caller
passes as ``journal=`` (a path, a ``postgresql://`` URL or a shared :class:`Journal`), so
that two orchestrators in one test reach the same journal as two processes would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, JournalMismatchError
from ica_tapis_async.simulator import Simulator

from .helpers import nextflow, orchestrator

JournalSpec = str | Path | Journal


async def _run_links(
    ica: ita.IcaClient, journal: JournalSpec, ids: list[str], **options: object
) -> ita.BatchReport:
    async with orchestrator(ica, journal=journal, **options) as orch:
        return await orch.link(ids)


async def finished_run_with_other_batch_size_is_refused(
    sim: Simulator, ica: ita.IcaClient, journal: JournalSpec
) -> None:
    """Point 1: a finished run called again with another batch size (or after a release
    changed the default) is refused by name, never re-created under new keys."""
    requests = [nextflow(f"s-{i}") for i in range(30)]
    async with orchestrator(ica, journal=journal, batch_size=10) as orch:
        first = await orch.create_analyses(requests)
    assert first.counts == {"SUCCEEDED": 30}
    created = dict(sim.stats.analyses_by_user_reference)
    for size in (15, None):  # None: the default, as after a release that changed it
        async with orchestrator(ica, journal=journal, batch_size=size) as orch:
            with pytest.raises(JournalMismatchError) as caught:
                await orch.create_analyses(requests)
        text = str(caught.value)
        assert first.run_id in text
        assert "batch_size=10" in text
        assert "run_id" in text
    assert sim.stats.analyses_by_user_reference == created
    # The same options replay the finished run: nothing sent, the same report.
    async with orchestrator(ica, journal=journal, batch_size=10) as orch:
        again = await orch.create_analyses(requests)
    assert (again.run_id, again.counts) == (first.run_id, first.counts)
    assert sim.stats.analyses_by_user_reference == created
    # A new run id starts a new run deliberately.
    async with orchestrator(ica, journal=journal, batch_size=15, run_id="again") as orch:
        other = await orch.create_analyses(requests)
    assert other.run_id == "again"


async def named_run_with_other_batch_size_is_refused(
    sim: Simulator, ica: ita.IcaClient, journal: JournalSpec
) -> None:
    """Point 1 with a run id: the refusal names the run, its batch size and the way out."""
    ids = [f"fil.n{i}" for i in range(40)]
    await _run_links(ica, journal, ids, batch_size=20, run_id="named")
    batches = sim.stats.batches.get("linking", 0)
    with pytest.raises(JournalMismatchError) as caught:
        await _run_links(ica, journal, ids, batch_size=8, run_id="named")
    text = str(caught.value)
    assert "'named'" in text
    assert "batch_size=20" in text
    assert "batch_size=8" in text
    assert "run_id" in text
    assert sim.stats.batches.get("linking", 0) == batches


async def repeated_ids_are_part_of_the_input(
    sim: Simulator, ica: ita.IcaClient, journal: JournalSpec
) -> None:
    """Point 6: input that differs only by repeated ids is other input; a replay reports one
    outcome per input item."""
    ids = ["fil.r1", "fil.r2", "fil.r1", "fil.r3"]
    first = await _run_links(ica, journal, ids, batch_size=10)
    assert first.total == 4
    assert first.counts == {"LINKED": 3, "DUPLICATE": 1}
    for other in (["fil.r1", "fil.r2", "fil.r3"], [*ids, "fil.r2"], ["fil.r1", *ids]):
        with pytest.raises(JournalMismatchError, match="other input"):
            await _run_links(ica, journal, other, batch_size=10)
    again = await _run_links(ica, journal, ids, batch_size=10)
    assert (again.run_id, again.total, again.counts) == (first.run_id, 4, first.counts)


async def fewer_repeats_than_the_run_are_refused(
    sim: Simulator, ica: ita.IcaClient, journal: JournalSpec
) -> None:
    """Point 6, the other way round: the run had no repeat, the new input has one."""
    ids = ["fil.u1", "fil.u2", "fil.u3"]
    first = await _run_links(ica, journal, ids, batch_size=10)
    assert first.total == 3
    with pytest.raises(JournalMismatchError, match="other input"):
        await _run_links(ica, journal, [*ids, "fil.u2"], batch_size=10)
    assert (await _run_links(ica, journal, ids, batch_size=10)).total == 3


async def reordered_input_is_one_mismatch(
    sim: Simulator, ica: ita.IcaClient, journal: JournalSpec
) -> None:
    """Point 7: reordered input is refused as one JournalMismatchError naming the chunks."""
    ids = [f"fil.o{i:03d}" for i in range(60)]
    first = await _run_links(ica, journal, ids, batch_size=10, max_inflight_batches=6)
    assert first.total == 60
    batches = sim.stats.batches.get("linking", 0)
    with pytest.raises(JournalMismatchError) as caught:
        await _run_links(ica, journal, ids[::-1], batch_size=10, max_inflight_batches=6)
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert first.run_id in str(caught.value)
    assert "other input" in str(caught.value)
    assert sim.stats.batches.get("linking", 0) == batches


async def refused_input_leaves_an_unfinished_run_resumable(
    sim: Simulator, ica: ita.IcaClient, journal: JournalSpec
) -> None:
    """Point 7 on an unfinished run: the refused (reordered) input must not record its own
    chunks past those the run had, or the run's own input is refused from then on."""
    ids = [f"fil.p{i:03d}" for i in range(60)]
    orch = orchestrator(ica, journal=journal, batch_size=10, max_inflight_batches=1)
    async with orch, orch.stream_link(ids) as outcomes:
        seen = 0
        async for _ in outcomes:
            seen += 1
            if seen == 10:
                break  # stopped after its first chunk: an unfinished run
    batches = sim.stats.batches.get("linking", 0)
    with pytest.raises(JournalMismatchError, match="other input"):
        await _run_links(ica, journal, ids[::-1], batch_size=10, max_inflight_batches=6)
    assert sim.stats.batches.get("linking", 0) == batches
    again = await _run_links(ica, journal, ids, batch_size=10, max_inflight_batches=6)
    assert again.total == 60
    assert again.failures == [], again.counts


SCENARIOS = (
    finished_run_with_other_batch_size_is_refused,
    named_run_with_other_batch_size_is_refused,
    repeated_ids_are_part_of_the_input,
    fewer_repeats_than_the_run_are_refused,
    reordered_input_is_one_mismatch,
    refused_input_leaves_an_unfinished_run_resumable,
)
