"""ica.data_update_batches: v3 bodies, limits, items."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson
import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import BATCH, ICA, ITEM, PROJECT, batch, sent

BASE = f"{ICA}/api/projects/{PROJECT}/dataUpdateBatch"
V3 = "application/vnd.illumina.v3+json"


def update_item(n: int, status: str = "UPDATED") -> dict[str, object]:
    """A v3 update batch item."""
    return {
        "id": f"3f1e8d0a-0000-4000-8000-{n:012d}",
        "request": {"dataId": f"fil.{n}", "userTags": {"addTags": ["qc"]}},
        "processing": {"status": status},
    }


async def test_create_sends_groups_without_unset_fields(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """Only the fields the caller set go on the wire; dates in the documented whole seconds."""
    http.post(BASE, status=201, payload=batch("INITIALIZED"))
    group = ita.DataUpdateGroup(
        ["fil.1", "fil.2"],
        user_tags=ita.TagUpdate(add_tags=["qc"], remove_tags=["raw"]),
        will_be_archived_at=datetime(2030, 1, 30, 8, 30, 0, 123456, tzinfo=UTC),
    )
    got = await ica.data_update_batches.create(PROJECT, [group])
    assert got.id == BATCH
    [(_, kwargs)] = sent(http, "POST")
    assert kwargs["headers"]["Content-Type"] == V3
    assert orjson.loads(kwargs["data"]) == {
        "dataUpdateGroups": [
            {
                "dataIds": ["fil.1", "fil.2"],
                "userTags": {"addTags": ["qc"], "removeTags": ["raw"]},
                "willBeArchivedAt": "2030-01-30T08:30:00Z",
            }
        ]
    }


async def test_create_refuses_over_100k_ids(ica: ita.IcaClient) -> None:
    """More than 100,000 data ids in all is refused before sending."""
    groups = [ita.DataUpdateGroup([f"fil.{i}" for i in range(60_000)]) for _ in range(2)]
    with pytest.raises(ita.RequestValidationError, match="100000"):
        await ica.data_update_batches.create(PROJECT, groups)


async def test_create_refuses_empty_group(ica: ita.IcaClient) -> None:
    """A group without data ids names the group."""
    with pytest.raises(ita.RequestValidationError, match=r"groups\[0\]\.data_ids"):
        await ica.data_update_batches.create(PROJECT, [ita.DataUpdateGroup([])])


async def test_get_get_item_and_list_items(http: FakeTransport, ica: ita.IcaClient) -> None:
    """All reads use v3; items keep their request and status."""
    http.get(f"{BASE}/{BATCH}", payload=batch("SUCCEEDED"))
    http.get(f"{BASE}/{BATCH}/items/{ITEM}", payload=update_item(1, "PARTIALLY_UPDATED"))
    http.get(
        re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*"),
        payload={"items": [update_item(1), update_item(2, "FAILED")], "nextPageToken": ""},
    )
    job = (await ica.data_update_batches.get(PROJECT, BATCH)).job
    assert job is not None
    assert job.status == "SUCCEEDED"
    item = await ica.data_update_batches.get_item(PROJECT, BATCH, ITEM)
    assert item.processing.status == ita.UpdateItemStatus.PARTIALLY_UPDATED
    assert item.request.user_tags is not None
    assert item.request.user_tags.add_tags == ["qc"]
    statuses = [
        i.processing.status
        async for i in ica.data_update_batches.list_items(PROJECT, BATCH, status="FAILED")
    ]
    assert statuses == ["UPDATED", "FAILED"]
    for url, kwargs in sent(http, "GET"):
        assert kwargs["headers"]["Accept"].startswith(V3), url
