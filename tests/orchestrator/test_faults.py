"""Creates that fail in every way: 409 windows, lost answers, 422s, keys older than the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import MemoryJournal
from ica_tapis_async.simulator import Simulator

from ..unit.fakes import FakeTransport
from .helpers import PROJECT, nextflow, orchestrator
from .test_polling import job

ICA = "https://ica.test/ica/rest"
LINK = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
ANALYSES = f"{ICA}/api/projects/{PROJECT}/analysisCreationBatch"
BATCH = "3f1e8d0a-0000-4000-8000-0000000000b1"
QUICK = ita.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001, jitter=False)


def problem(status: int) -> dict[str, object]:
    """A Problem body."""
    return {
        "type": "about:blank",
        "title": "ICA_TEST",
        "status": status,
        "detail": "refused",
        "parameters": {},
        "timestamp": "2024-01-01T00:00:00Z",
    }


def link_items(*ids: str) -> dict[str, object]:
    """A finished page of linked items."""
    return {
        "items": [
            {"id": BATCH, "request": {"dataId": i}, "processing": {"status": "LINKED"}} for i in ids
        ],
        "nextPageToken": None,
    }


async def test_a_409_window_longer_than_the_retries_is_waited_out(
    sim: Simulator,
) -> None:
    """The server still processes the first create: 409s are waited out with the same key, the
    analyses are created once and reported, never REJECTED."""
    sim.configure(idempotent_processing_s=1.0)
    policy = ita.RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
    timeouts = ita.Timeouts(total=0.2)
    async with ita.IcaClient(sim.ica_url, api_key="k", retry=policy, timeouts=timeouts) as ica:
        report = await orchestrator(ica, batch_size=5).create_analyses(
            [nextflow(f"w-{i}") for i in range(5)]
        )
    assert report.counts == {"SUCCEEDED": 5}
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}
    assert sim.stats.idempotent_replays >= 1


async def test_a_409_past_poll_timeout_is_in_doubt_and_resumes(
    sim: Simulator, tmp_path: Path
) -> None:
    """When poll_timeout runs out inside the 409 window the chunk is IN_DOUBT and stays in the
    journal; the next run picks it up and creates nothing twice."""
    sim.configure(idempotent_processing_s=1.5)
    journal = tmp_path / "j.sqlite"
    requests = [nextflow(f"d-{i}") for i in range(4)]
    policy = ita.RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02)
    async with ita.IcaClient(
        sim.ica_url, api_key="k", retry=policy, timeouts=ita.Timeouts(total=0.2)
    ) as ica:
        first = await orchestrator(ica, journal=journal, poll_timeout=0.2).create_analyses(requests)
        assert first.counts == {"IN_DOUBT": 4}
        assert "Idempotency-Key ita-" in (first.failures[0].info or "")
        second = await orchestrator(ica, journal=journal).create_analyses(requests)
    assert second.counts == {"SUCCEEDED": 4}
    assert second.run_id == first.run_id
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_lost_answers_on_any_status_after_processing_mark_items_resubmitted(
    status: int,
) -> None:
    """A 502 or 504 (not only a 500) may come after processing: the re-sent chunk's items are
    marked resubmitted, and so is the journal's chunk."""
    journal = MemoryJournal()
    policy = ita.RetryPolicy(
        max_attempts=2, initial_backoff=0.001, jitter=False, retry_statuses=frozenset({status})
    )
    items = re.compile(re.escape(f"{LINK}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(LINK, status=status, payload=problem(status))
    http.post(LINK, status=201, payload={"id": BATCH, "job": job("RUNNING")})
    http.get(items, payload={"items": [], "remainingRecords": 0})  # nothing pending
    http.get(items, payload={**link_items("fil.1"), "remainingRecords": 1})  # 2 linked
    http.get(items, payload={"items": [], "nextPageToken": None})  # nothing else
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=policy) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal)
        async with orch.stream_link(["fil.1", "fil.2"]) as outcomes:
            seen = [o async for o in outcomes]
    assert [o.resubmitted for o in seen] == [True, True]
    chunks = await journal.chunks(next(iter(journal._runs)))
    assert chunks[0].resubmitted


@pytest.mark.parametrize("status", [502, 504, None])
async def test_a_create_failing_after_a_lost_answer_is_in_doubt_not_unsent(
    status: int | None,
) -> None:
    """Past the retries, a create whose answers were lost (502, 504, dropped connection) is
    IN_DOUBT and resumable, never NOT_SUBMITTED; a 503 (refused before processing) is."""
    journal = MemoryJournal()
    http = FakeTransport()
    for _ in range(2):
        if status is None:
            http.post(ANALYSES, exception=ConnectionResetError("reset"))
        else:
            http.post(ANALYSES, status=status, payload=problem(status))
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=QUICK) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal)
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"IN_DOUBT": 1}
    assert "Idempotency-Key ita-" in (report.failures[0].info or "")
    record = (await journal.chunks(report.run_id))[0]
    assert not record.final
    assert record.in_doubt
    assert record.state == "sending"


async def test_a_503_past_the_retries_is_not_submitted_and_resumable() -> None:
    """Refused before processing: NOT_SUBMITTED, and the journal sends it again next time."""
    journal = MemoryJournal()
    http = FakeTransport()
    for _ in range(2):
        http.post(LINK, status=503, payload=problem(503))
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=QUICK) as ica:
        report = await ita.BatchOrchestrator(ica, PROJECT, journal=journal).link(["fil.1"])
    assert report.counts == {"NOT_SUBMITTED": 1}
    assert not (await journal.chunks(report.run_id))[0].final


async def test_a_422_on_a_fresh_key_rejects_that_chunk_and_the_run_goes_on() -> None:
    """A validation 422 on the first use of a key is REJECTED for that chunk only."""
    items = re.compile(re.escape(f"{ANALYSES}/{BATCH}/items") + r"\?.*")
    done = {
        "items": [
            {
                "id": BATCH,
                "request": {"userReference": "b", "pipelineId": "pipe-1"},
                "processing": {"status": "SUCCEEDED"},
            }
        ],
        "nextPageToken": None,
    }
    http = FakeTransport()
    http.post(ANALYSES, status=422, payload=problem(422))
    http.post(ANALYSES, status=201, payload={"id": BATCH})
    http.get(items, payload={"items": [], "remainingRecords": 0})
    http.get(items, payload=done)
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=QUICK) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, batch_size=1, max_inflight_batches=1)
        report = await orch.create_analyses([nextflow("a"), nextflow("b")])
    assert report.counts == {"REJECTED": 1, "SUCCEEDED": 1}
    assert report.failures[0].key == "a"


async def test_a_422_on_a_key_sent_before_is_the_chunks_own_refusal() -> None:
    """A 422 for a key the journal says was sent before is REJECTED, not a conflict: the key
    embeds the body's digest and the journal refuses changed input, so the key was only ever
    sent with this body and the 422 is the server's stored refusal of it."""
    journal = MemoryJournal()
    http = FakeTransport()
    http.post(ANALYSES, exception=ConnectionResetError("reset"))
    http.post(ANALYSES, exception=ConnectionResetError("reset"))
    http.post(ANALYSES, status=422, payload=problem(422))
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=QUICK) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal)
        first = await orch.create_analyses([nextflow("a")])
        assert first.counts == {"IN_DOUBT": 1}
        second = await orch.create_analyses([nextflow("a")])
    assert second.counts == {"REJECTED": 1}
    assert "stored refusal of the chunk, not a key conflict" in (second.failures[0].info or "")


async def test_keys_older_than_the_server_remembers_are_not_resent_silently(
    sim: Simulator, tmp_path: Path
) -> None:
    """A chunk whose answer was lost longer ago than key_lifetime is IN_DOUBT with its key; it
    is sent again only with resend_in_doubt=True."""
    journal = tmp_path / "j.sqlite"
    requests = [nextflow(f"old-{i}") for i in range(3)]
    sim.configure(p_drop_after_post=1.0, fault_operations={"createAnalysisCreationBatch"})
    async with ita.IcaClient(sim.ica_url, api_key="k", retry=QUICK) as ica:
        lost = await orchestrator(ica, journal=journal).create_analyses(requests)
        assert lost.counts == {"IN_DOUBT": 3}
        made = len(sim.stats.analyses_by_user_reference)
        assert made == 3  # the server did create them: the answers were lost
        sim.configure(p_drop_after_post=0.0)
        posts = sim.stats.batches.get("analysis", 0)
        stale = await orchestrator(ica, journal=journal, key_lifetime=1e-6).create_analyses(
            requests
        )
        assert stale.counts == {"IN_DOUBT": 3}
        info = stale.failures[0].info or ""
        assert "Idempotency-Key ita-" in info
        assert "resend_in_doubt=True" in info
        assert sim.stats.batches.get("analysis", 0) == posts  # nothing was sent
        final = await orchestrator(
            ica, journal=journal, key_lifetime=1e-6, resend_in_doubt=True
        ).create_analyses(requests)
    assert final.counts == {"SUCCEEDED": 3}
    assert final.resubmitted == 3
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}
