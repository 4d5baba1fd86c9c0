"""ica.data_linking_batches: paths, media types, bodies, paging."""

from __future__ import annotations

import re

import orjson
import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import BATCH, ICA, ITEM, PROJECT, batch, linking_item, queries, sent

BASE = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch"
V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"


async def test_create_sends_v4_body(http: FakeTransport, ica: ita.IcaClient) -> None:
    """create POSTs {items:[{dataId}]} as v4 and returns the batch with its job."""
    http.post(BASE, status=201, payload=batch("INITIALIZED"))
    got = await ica.data_linking_batches.create(PROJECT, ["fil.1", "fol.2"])
    assert isinstance(got, ita.ProjectDataLinkingBatch)
    assert got.job is not None
    assert got.job.status == ita.JobStatus.INITIALIZED
    [(url, kwargs)] = sent(http, "POST")
    assert url == BASE
    assert kwargs["headers"]["Content-Type"] == V4
    assert kwargs["headers"]["Accept"].startswith(V4)
    assert "application/problem+json" in kwargs["headers"]["Accept"]
    assert orjson.loads(kwargs["data"]) == {"items": [{"dataId": "fil.1"}, {"dataId": "fol.2"}]}
    assert "Idempotency-Key" not in kwargs["headers"]


@pytest.mark.parametrize(
    ("ids", "message"),
    [([], "must not be empty"), (["fil.1", ""], r"data_ids\[1\]"), ("fil.1", "not a single")],
)
async def test_create_refuses_bad_ids(ica: ita.IcaClient, ids: object, message: str) -> None:
    """Bad data ids are refused before anything is sent."""
    with pytest.raises(ita.RequestValidationError, match=message):
        await ica.data_linking_batches.create(PROJECT, ids)  # type: ignore[arg-type]


async def test_get_is_v3(http: FakeTransport, ica: ita.IcaClient) -> None:
    """get asks for the v3 media type (the only one the API offers)."""
    http.get(f"{BASE}/{BATCH}", payload=batch("SUCCEEDED"))
    got = await ica.data_linking_batches.get(PROJECT, BATCH)
    assert got.id == BATCH
    [(_, kwargs)] = sent(http, "GET")
    assert kwargs["headers"]["Accept"].startswith(V3)


async def test_get_item_is_v4(http: FakeTransport, ica: ita.IcaClient) -> None:
    """get_item returns a V4 item with PARTIALLY_LINKED kept."""
    http.get(f"{BASE}/{BATCH}/items/{ITEM}", payload=linking_item(1, "PARTIALLY_LINKED"))
    got = await ica.data_linking_batches.get_item(PROJECT, BATCH, ITEM)
    assert isinstance(got, ita.ProjectDataLinkingBatchItemV4)
    assert got.processing.status == ita.LinkingItemStatus.PARTIALLY_LINKED
    [(_, kwargs)] = sent(http, "GET")
    assert kwargs["headers"]["Accept"].startswith(V4)


async def test_list_items_follows_cursor_with_repeated_status(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """list_items pages by cursor and sends the status filter as repeated parameters."""
    pattern = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http.get(
        pattern,
        payload={
            "items": [linking_item(1), linking_item(2)],
            "nextPageToken": "tok-2",
            "remainingRecords": 1,
        },
    )
    http.get(
        pattern, payload={"items": [linking_item(3)], "nextPageToken": None, "remainingRecords": 0}
    )
    items = [
        i
        async for i in ica.data_linking_batches.list_items(
            PROJECT, BATCH, status=["FAILED", "PARTIALLY_LINKED"], page_size=2
        )
    ]
    assert [i.request.data_id for i in items] == ["fil.1", "fil.2", "fil.3"]
    assert queries(http) == sorted(
        [
            [("pageSize", "2"), ("status", "FAILED"), ("status", "PARTIALLY_LINKED")],
            [
                ("pageSize", "2"),
                ("pageToken", "tok-2"),
                ("status", "FAILED"),
                ("status", "PARTIALLY_LINKED"),
            ],
        ]
    )


async def test_list_items_repeated_token_raises(http: FakeTransport, ica: ita.IcaClient) -> None:
    """A next-page token seen twice raises PaginationError instead of looping."""
    pattern = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http.get(pattern, payload={"items": [linking_item(1)], "nextPageToken": "same"}, repeat=True)
    with pytest.raises(ita.PaginationError):
        async for _ in ica.data_linking_batches.list_items(PROJECT, BATCH, page_size=1):
            pass


async def test_list_items_pages_and_first_page(http: FakeTransport, ica: ita.IcaClient) -> None:
    """.pages() yields whole pages; awaiting the paginator gives the first page."""
    pattern = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http.get(
        pattern, payload={"items": [linking_item(1)], "nextPageToken": "t", "remainingRecords": 5}
    )
    first = await ica.data_linking_batches.list_items(PROJECT, BATCH)
    assert first.remaining_records == 5
    assert len(first.items) == 1
    http.get(pattern, payload={"items": [linking_item(1)], "nextPageToken": "t2"})
    http.get(pattern, payload={"items": [], "nextPageToken": ""})
    pages = [p async for p in ica.data_linking_batches.list_items(PROJECT, BATCH).pages()]
    assert [len(p.items) for p in pages] == [1, 0]


async def test_list_items_offset_mode(http: FakeTransport, ica: ita.IcaClient) -> None:
    """page_offset switches to offset paging and stops at totalItemCount."""
    pattern = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    http.get(
        pattern,
        payload={
            "items": [linking_item(1), linking_item(2)],
            "nextPageToken": "",
            "totalItemCount": 3,
        },
    )
    http.get(
        pattern, payload={"items": [linking_item(3)], "nextPageToken": "", "totalItemCount": 3}
    )
    got = await ica.data_linking_batches.list_items(
        PROJECT, BATCH, page_offset=0, page_size=2
    ).collect()
    assert len(got) == 3
    assert queries(http) == [
        [("pageOffset", "0"), ("pageSize", "2")],
        [("pageOffset", "2"), ("pageSize", "2")],
    ]


async def test_item_summaries_read_the_same_pages_slimly(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """list_item_summaries pages like list_items but gives BatchItemSummary views."""
    pattern = re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*")
    failed = linking_item(2, "FAILED")
    failed["processing"]["additionalStatusInformation"] = "no such data"
    http.get(pattern, payload={"items": [linking_item(1)], "nextPageToken": "t"})
    http.get(pattern, payload={"items": [failed], "nextPageToken": ""})
    got = [
        item
        async for item in ica.data_linking_batches.list_item_summaries(
            PROJECT, BATCH, status=["LINKED", "FAILED"], page_size=1
        )
    ]
    assert all(isinstance(item, ita.BatchItemSummary) for item in got)
    assert [(i.request.data_id, i.processing.status) for i in got] == [
        ("fil.1", "LINKED"),
        ("fil.2", "FAILED"),
    ]
    assert got[1].processing.additional_status_information == "no such data"
    assert [q.count(("status", "FAILED")) for q in queries(http)] == [1, 1]
