"""A create the server accepted (2xx) but whose answer cannot be read is in doubt, not fatal.

Adversarial review of issue 20 (points 5 and 6): a success answer over ``max_body_size``, or of
the wrong shape (a proxy's HTML page with a 201), raises ``ResponseValidationError``. For a
create that error means the server *processed* the request: the chunk is ``IN_DOUBT`` (resumable
from the journal), and the run goes on with its other chunks instead of ending with the error.
"""

from __future__ import annotations

import re

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import MemoryJournal

from ..unit.fakes import FakeTransport
from .helpers import PROJECT, nextflow
from .test_faults import ANALYSES, BATCH, ICA, QUICK, problem

ITEMS = re.compile(re.escape(f"{ANALYSES}/{BATCH}/items") + r"\?.*")
DONE = {
    "items": [
        {
            "id": BATCH,
            "request": {"userReference": "b", "pipelineId": "pipe-1"},
            "processing": {"status": "SUCCEEDED"},
        }
    ],
    "nextPageToken": None,
}
UNREADABLE = {
    "oversized": {"payload": {"id": "3f1e8d0a-0000-4000-8000-0000000000b0", "pad": "x" * 5000}},
    "html": {"body": "<html><body>Welcome</body></html>", "headers": {"Content-Type": "text/html"}},
}


@pytest.mark.parametrize("answer", sorted(UNREADABLE))
async def test_an_unreadable_success_answer_to_a_create_is_in_doubt_and_the_run_goes_on(
    answer: str,
) -> None:
    """First chunk: 201 with a body over the cap (or an HTML page). It was created on the
    server: IN_DOUBT with its key, journal entry in doubt and unfinished; the second chunk is
    still sent and reported."""
    journal = MemoryJournal()
    http = FakeTransport()
    http.post(ANALYSES, status=201, **UNREADABLE[answer])  # type: ignore[arg-type]
    http.post(ANALYSES, status=201, payload={"id": BATCH})
    http.get(ITEMS, payload={"items": [], "remainingRecords": 0})
    http.get(ITEMS, payload=DONE)
    async with ita.IcaClient(
        ICA, transport=http, api_key="k", retry=QUICK, max_body_size=1000
    ) as ica:
        orch = ita.BatchOrchestrator(
            ica, PROJECT, batch_size=1, max_inflight_batches=1, journal=journal
        )
        report = await orch.create_analyses([nextflow("a"), nextflow("b")])
    assert report.counts == {"IN_DOUBT": 1, "SUCCEEDED": 1}
    failure = report.failures[0]
    assert failure.key == "a"
    assert "Idempotency-Key ita-" in (failure.info or "")
    assert len([s for s in http.sent if s.method == "POST"]) == 2  # nothing sent twice
    first = (await journal.chunks(report.run_id))[0]
    assert (first.state, first.in_doubt, first.final) == ("sending", True, False)


@pytest.mark.parametrize(
    ("status", "headers"),
    [(300, {}), (302, {}), (303, {}), (307, {"Location": "ftp://elsewhere.test/x"})],
)
async def test_a_create_answered_by_a_redirect_that_cannot_be_followed_is_in_doubt(
    status: int, headers: dict[str, str]
) -> None:
    """Point 9 makes a 3xx without a usable Location an error; for a create it is no refusal of
    the input (REJECTED is final: the chunk would never be sent again) but an answer that says
    nothing of what the server did (a 303 comes after processing): IN_DOUBT, resumable."""
    journal = MemoryJournal()
    http = FakeTransport()
    http.post(ANALYSES, status=status, payload=problem(status), headers=headers)
    async with ita.IcaClient(ICA, transport=http, api_key="k", retry=QUICK) as ica:
        report = await ita.BatchOrchestrator(ica, PROJECT, journal=journal).create_analyses(
            [nextflow("a")]
        )
    assert report.counts == {"IN_DOUBT": 1}
    record = (await journal.chunks(report.run_id))[0]
    assert (record.final, record.in_doubt) == (False, True)


@pytest.mark.parametrize("answer", sorted(UNREADABLE))
async def test_an_unreadable_answer_while_polling_leaves_the_items_unknown_and_resumable(
    answer: str,
) -> None:
    """The batch was created; reading its items gets a body over the cap (or a proxy's HTML):
    like a poll that failed past its retries, the items are UNKNOWN and the chunk stays
    submitted for a re-run, instead of the error ending the whole run."""
    journal = MemoryJournal()
    http = FakeTransport()
    http.post(ANALYSES, status=201, payload={"id": BATCH})
    http.get(ITEMS, status=200, repeat=True, **UNREADABLE[answer])  # type: ignore[arg-type]
    async with ita.IcaClient(
        ICA, transport=http, api_key="k", retry=QUICK, max_body_size=1000
    ) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, journal=journal)
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"UNKNOWN": 1}
    assert BATCH in (report.failures[0].info or "")
    record = (await journal.chunks(report.run_id))[0]
    assert (record.state, record.batch_id, record.final) == ("submitted", BATCH, False)
