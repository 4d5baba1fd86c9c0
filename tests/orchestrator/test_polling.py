"""Polling economy: one request per poll while a batch runs, item pages read once."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import PROJECT, nextflow

ICA = "https://ica.test/ica/rest"
BASE = f"{ICA}/api/projects/{PROJECT}/analysisCreationBatch"
BATCH = "3f1e8d0a-0000-4000-8000-0000000000b1"


def item(ref: str, status: str) -> dict[str, object]:
    """An analysis batch item."""
    return {
        "id": "3f1e8d0a-0000-4000-8000-0000000000c1",
        "request": {
            "userReference": ref,
            "pipelineId": "pipe-1",
            "tags": {"technicalTags": [], "userTags": [], "referenceTags": []},
        },
        "processing": {"status": status},
    }


async def test_each_poll_is_one_filtered_one_item_page() -> None:
    """ "Done yet?" is a 1-item page filtered on pending statuses; items are read once."""
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    items = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(BASE, status=201, payload={"id": BATCH})
    http.get(
        items,
        payload={"items": [item("a", "RUNNING")], "remainingRecords": 1, "nextPageToken": "t"},
    )
    http.get(items, payload={"items": [], "remainingRecords": 0, "nextPageToken": None})
    http.get(
        items,
        payload={"items": [item("a", "SUCCEEDED"), item("b", "FAILED")], "nextPageToken": None},
    )
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, sleep=fake_sleep, poll_initial=0.5)
        report = await orch.create_analyses([nextflow("a"), nextflow("b")])
    queries = [
        dict(parse_qsl(urlsplit(str(url)).query))
        for (method, url), calls in http.requests.items()
        for _ in calls
        if "/items" in str(url)
    ]
    assert report.counts == {"SUCCEEDED": 1, "FAILED": 1}
    assert sleeps == [0.5]
    assert report.requests == 1 + 2 + 1  # create, two probes, one full read
    probes = [q for q in queries if q.get("pageSize") == "1"]
    assert probes
    assert all("status" in q for q in probes)


def job(status: str) -> dict[str, object]:
    """A spec-valid Job."""
    when = "2024-01-01T00:00:00Z"
    owner = {
        "id": BATCH,
        "timeCreated": when,
        "timeModified": when,
        "ownerId": BATCH,
        "tenantId": BATCH,
        "username": "u",
        "email": "u@x",
        "active": True,
        "tenantAdministrator": False,
        "emailVerified": True,
        "twoFactorAuthentication": False,
    }
    return {
        "id": BATCH,
        "status": status,
        "subjectType": "ProjectDataLinkingBatch",
        "subjectId": BATCH,
        "timeCreated": when,
        "owner": owner,
    }


def pending_page(n: int) -> dict[str, object]:
    """A one-item probe page saying ``n`` items are pending."""
    return {
        "items": [item("a", "RUNNING")] if n else [],
        "remainingRecords": max(0, n - 1),
        "nextPageToken": "t" if n > 1 else None,
    }


async def test_next_poll_is_timed_for_the_expected_end() -> None:
    """When items are moving, the next poll is set for when the rest should be done."""
    now = [0.0]
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)
        now[0] += delay

    items = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(BASE, status=201, payload={"id": BATCH})
    http.get(items, payload=pending_page(1000))
    http.get(items, payload=pending_page(500))
    http.get(items, payload=pending_page(0))
    http.get(items, payload={"items": [item("a", "SUCCEEDED")], "nextPageToken": None})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        orch = ita.BatchOrchestrator(
            ica, PROJECT, sleep=fake_sleep, clock=lambda: now[0], poll_initial=0.5, poll_max=10
        )
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"SUCCEEDED": 1}
    # 500 items done in 0.5 s: the other 500 should take 0.5 s more, so look just after that.
    assert sleeps == [0.5, pytest.approx(0.535)]


async def test_a_stopped_job_is_not_waited_on() -> None:
    """Items that stop moving make the poller look at the job; a final job ends the wait, and
    its items are final too: one still RUNNING when the job STOPPED is kept as the server
    spelled it (not ok), not UNKNOWN, since the job will never move it again, and the chunk is
    done (an UNKNOWN chunk would be polled again by every re-run with the journal)."""
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    items = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    stopped = {
        "id": BATCH,
        "job": {
            "id": BATCH,
            "status": "STOPPED",
            "subjectType": "AnalysisCreationBatch",
            "subjectId": BATCH,
            "timeCreated": "2024-01-01T00:00:00Z",
            "owner": {
                "id": BATCH,
                "timeCreated": "2024-01-01T00:00:00Z",
                "timeModified": "2024-01-01T00:00:00Z",
                "ownerId": BATCH,
                "tenantId": BATCH,
                "username": "u",
                "email": "u@x",
                "active": True,
                "tenantAdministrator": False,
                "emailVerified": True,
                "twoFactorAuthentication": False,
            },
        },
    }
    http = FakeTransport()
    http.post(BASE, status=201, payload={"id": BATCH})
    for _ in range(4):
        http.get(items, payload=pending_page(1))
    http.get(f"{BASE}/{BATCH}", payload=stopped)
    http.get(items, payload={"items": [item("a", "RUNNING")], "nextPageToken": None})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, sleep=fake_sleep, poll_initial=0.5)
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"RUNNING": 1}
    assert not report.ok
    assert len(sleeps) == 3


async def test_items_read_before_the_job_was_seen_final_are_read_again() -> None:
    """Pending items are final once the job is, but only as the job left them: an item read
    RUNNING just before the job was seen final may have finished meanwhile, so the items
    are read once more instead of freezing the stale status."""
    items = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(BASE, status=201, payload={"id": BATCH})
    http.get(items, payload=pending_page(1))  # at the deadline: read all, then ask the job
    http.get(items, payload={"items": [item("a", "RUNNING")], "nextPageToken": None})
    http.get(f"{BASE}/{BATCH}", payload={"id": BATCH, "job": job("SUCCEEDED")})
    http.get(items, payload={"items": [item("a", "SUCCEEDED")], "nextPageToken": None})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, poll_timeout=0)
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"SUCCEEDED": 1}
    assert report.requests == 1 + 1 + 1 + 1 + 1  # create, probe, read, job, read again


LINK = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"


def link_item(data_id: str, status: str) -> dict[str, object]:
    """A V4 linking item."""
    return {
        "id": "3f1e8d0a-0000-4000-8000-0000000000c2",
        "request": {"dataId": data_id},
        "processing": {"status": status, "additionalStatusInformation": "why"},
    }


def link_queries(http: FakeTransport) -> list[dict[str, list[str]]]:
    """Query parameters of every item-list request."""
    return [
        parse_qs(urlsplit(str(url)).query)
        for (_, url), calls in http.requests.items()
        for _ in calls
        if "/items" in str(url)
    ]


async def test_linked_items_are_counted_not_downloaded() -> None:
    """A finished linking batch: LINKED items are counted, only the others are read."""
    items = re.compile(re.escape(f"{LINK}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(LINK, status=201, payload={"id": BATCH, "job": job("RUNNING")})
    http.get(items, payload=pending_page(0))  # nothing pending
    http.get(items, payload={"items": [link_item("fil.1", "LINKED")], "remainingRecords": 1})
    http.get(items, payload={"items": [link_item("fil.3", "FAILED")], "nextPageToken": None})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        report = await ita.BatchOrchestrator(ica, PROJECT).link(["fil.1", "fil.2", "fil.3"])
    sizes = sorted(q["pageSize"][0] for q in link_queries(http))
    assert report.counts == {"LINKED": 2, "FAILED": 1}
    assert report.failures[0].key == "fil.3"
    assert report.failures[0].info == "why"
    assert sizes == ["1", "1", "1000"]


async def test_counts_that_do_not_add_up_fall_back_to_reading_everything() -> None:
    """If the counted and read items do not cover the batch, every item is read; a status we
    do not know is kept as spelled (not ok) once the job is final."""
    items = re.compile(re.escape(f"{LINK}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(LINK, status=201, payload={"id": BATCH, "job": job("RUNNING")})
    http.get(items, payload=pending_page(0))
    http.get(items, payload={"items": [link_item("fil.1", "LINKED")], "remainingRecords": 0})
    http.get(items, payload={"items": [], "nextPageToken": None})
    http.get(
        items,
        payload={
            "items": [link_item("fil.1", "LINKED"), link_item("fil.2", "NEW_STATUS")],
            "nextPageToken": None,
        },
    )
    http.get(f"{LINK}/{BATCH}", payload={"id": BATCH, "job": job("SUCCEEDED")})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        report = await ita.BatchOrchestrator(ica, PROJECT, poll_timeout=0).link(["fil.1", "fil.2"])
    assert report.counts == {"LINKED": 1, "NEW_STATUS": 1}
    assert [f.key for f in report.failures] == ["fil.2"]


async def test_an_unknown_status_backs_off_and_is_final_once_the_job_is() -> None:
    """An item status this library does not know never causes a poll storm: polls back off
    while the job runs; once the job is final the status is kept as spelled, not ok, and the
    chunk is done."""
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    items = re.compile(re.escape(f"{LINK}/{BATCH}/items") + r"\?.*")
    batch = f"{LINK}/{BATCH}"
    odd = {"items": [link_item("fil.1", "QUARANTINED")], "nextPageToken": None}
    journal = ita.orchestrator.MemoryJournal()
    http = FakeTransport()
    http.post(LINK, status=201, payload={"id": BATCH, "job": job("RUNNING")})
    for _ in range(4):
        http.get(items, payload=pending_page(0))  # the pending filter cannot see it
        http.get(items, payload={"items": [], "remainingRecords": 0})  # none LINKED
        http.get(items, payload=odd)  # the others: not final, not ours to count
        http.get(items, payload=odd)  # so read everything
        http.get(batch, payload={"id": BATCH, "job": job("RUNNING")})
    http.get(items, payload=pending_page(0))
    http.get(items, payload={"items": [], "remainingRecords": 0})
    http.get(items, payload=odd)
    http.get(items, payload=odd)
    http.get(batch, payload={"id": BATCH, "job": job("SUCCEEDED")})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        orch = ita.BatchOrchestrator(
            ica, PROJECT, sleep=fake_sleep, poll_initial=0.5, poll_max=10, journal=journal
        )
        report = await orch.link(["fil.1"])
    assert report.counts == {"QUARANTINED": 1}
    assert not report.ok
    assert sleeps == [0.5, 0.75, 1.125, 1.6875]
    assert (await journal.chunks(report.run_id))[0].final


async def test_an_empty_item_list_right_after_the_create_is_not_finished() -> None:
    """A new batch whose items are not listed yet is polled until its items appear."""
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    items = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(BASE, status=201, payload={"id": BATCH})
    http.get(items, payload={"items": [], "remainingRecords": 0})  # nothing pending yet
    http.get(items, payload={"items": [], "nextPageToken": None})  # and nothing listed
    http.get(f"{BASE}/{BATCH}", payload={"id": BATCH})  # no job to ask
    http.get(items, payload={"items": [], "remainingRecords": 0})
    http.get(items, payload={"items": [item("a", "SUCCEEDED")], "nextPageToken": None})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, sleep=fake_sleep, poll_initial=0.5)
        report = await orch.create_analyses([nextflow("a")])
    assert report.counts == {"SUCCEEDED": 1}
    assert sleeps == [0.5]


async def test_counted_items_are_trusted_only_when_the_ids_add_up() -> None:
    """A read item that is not in the chunk voids the count: everything is read, and an item
    the server never reported is MISSING, not LINKED."""
    items = re.compile(re.escape(f"{LINK}/{BATCH}/items") + r"\?.*")
    http = FakeTransport()
    http.post(LINK, status=201, payload={"id": BATCH, "job": job("RUNNING")})
    http.get(items, payload=pending_page(0))
    http.get(items, payload={"items": [link_item("fil.1", "LINKED")], "remainingRecords": 0})
    http.get(items, payload={"items": [link_item("fil.9", "FAILED")], "nextPageToken": None})
    http.get(items, payload={"items": [link_item("fil.1", "LINKED")], "nextPageToken": None})
    http.get(f"{LINK}/{BATCH}", payload={"id": BATCH, "job": job("SUCCEEDED")})
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        report = await ita.BatchOrchestrator(ica, PROJECT).link(["fil.1", "fil.2"])
    assert report.counts == {"LINKED": 1, "MISSING": 1}
    assert report.failures[0].key == "fil.2"
