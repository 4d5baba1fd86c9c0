"""Polling economy: one request per poll while a batch runs, item pages read once."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from aioresponses import aioresponses

import ica_tapis_async as ita

from .conftest import PROJECT, nextflow

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


async def test_jobless_batch_is_polled_with_a_filtered_one_item_page() -> None:
    """Without a job, "done yet?" is a 1-item page filtered on pending statuses."""
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    items = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    with aioresponses() as http:
        http.post(BASE, status=201, payload={"id": BATCH})
        http.get(f"{BASE}/{BATCH}", payload={"id": BATCH}, repeat=True)
        http.get(
            items,
            payload={"items": [item("a", "RUNNING")], "remainingRecords": 1, "nextPageToken": "t"},
        )
        http.get(items, payload={"items": [], "remainingRecords": 0, "nextPageToken": None})
        http.get(
            items,
            payload={"items": [item("a", "SUCCEEDED"), item("b", "FAILED")], "nextPageToken": None},
        )
        async with ita.IcaClient(ICA, api_key="k") as ica:
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
    assert report.requests == 1 + 2 + 2 + 1  # create, two batch GETs, two probes, one full read
    probes = [q for q in queries if q.get("pageSize") == "1"]
    assert probes and all("status" in q for q in probes)
