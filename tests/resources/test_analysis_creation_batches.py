"""ica.analysis_creation_batches: keyed creates, v4 items, the CWL input union."""

from __future__ import annotations

import re

import orjson
import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import BATCH, ICA, ITEM, PROJECT, batch, sent

BASE = f"{ICA}/api/projects/{PROJECT}/analysisCreationBatch"
V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"


def analysis_item(status: str = "RUNNING") -> dict[str, object]:
    """A V4 analysis item without its created analysis."""
    return {
        "id": ITEM,
        "request": {
            "userReference": "sample-1",
            "pipelineId": "pipe-1",
            "tags": {"technicalTags": [], "userTags": [], "referenceTags": []},
        },
        "processing": {"status": status},
    }


async def test_create_sends_key_and_union_discriminator(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """The CWL input's objectType is set by its class; the key is sent as given."""
    http.post(BASE, status=201, payload={"id": BATCH})
    request = ita.CreateAnalysisCreationBatch(
        cwl_items=[
            ita.CreateCwlAnalysis(
                "sample-1",
                "pipe-1",
                ita.CwlAnalysisJsonInput('{"a": 1}', data_ids=["fil.1"]),
            )
        ]
    )
    got = await ica.analysis_creation_batches.create(PROJECT, request, idempotency_key="k-1")
    assert got.id == BATCH
    assert got.job is None
    [(_, kwargs)] = sent(http, "POST")
    assert kwargs["headers"]["Idempotency-Key"] == "k-1"
    assert kwargs["headers"]["Content-Type"] == V3
    body = orjson.loads(kwargs["data"])
    assert body == {
        "cwlItems": [
            {
                "userReference": "sample-1",
                "pipelineId": "pipe-1",
                "analysisInput": {
                    "objectType": "JSON",
                    "inputJson": '{"a": 1}',
                    "dataIds": ["fil.1"],
                },
            }
        ]
    }


async def test_create_makes_a_key_when_none_given(http: FakeTransport, ica: ita.IcaClient) -> None:
    """Without a caller's key, one is generated so that retries stay safe."""
    http.post(BASE, status=201, payload=batch())
    request = ita.CreateAnalysisCreationBatch(
        nextflow_items=[ita.CreateNextflowAnalysis("s", "p", ita.NextflowAnalysisInput([]))]
    )
    await ica.analysis_creation_batches.create(PROJECT, request)
    [(_, kwargs)] = sent(http, "POST")
    assert kwargs["headers"]["Idempotency-Key"].startswith("ita-")


async def test_create_refuses_empty_request(ica: ita.IcaClient) -> None:
    """A request with no analyses is refused before sending."""
    with pytest.raises(ita.RequestValidationError, match="no analyses"):
        await ica.analysis_creation_batches.create(PROJECT, ita.CreateAnalysisCreationBatch())


async def test_items_are_v4(http: FakeTransport, ica: ita.IcaClient) -> None:
    """Items are requested with v4 and the batch with v3."""
    http.get(f"{BASE}/{BATCH}", payload=batch("RUNNING"))
    http.get(f"{BASE}/{BATCH}/items/{ITEM}", payload=analysis_item("SUCCEEDED"))
    http.get(
        re.compile(re.escape(f"{BASE}/{BATCH}/items") + r"\?.*"),
        payload={"items": [analysis_item()], "nextPageToken": None},
    )
    assert (await ica.analysis_creation_batches.get(PROJECT, BATCH)).job is not None
    item = await ica.analysis_creation_batches.get_item(PROJECT, BATCH, ITEM)
    assert isinstance(item, ita.AnalysisCreationBatchItemV4)
    assert item.processing.status == ita.AnalysisItemStatus.SUCCEEDED
    items = await ica.analysis_creation_batches.list_items(PROJECT, BATCH).collect()
    assert items[0].request.user_reference == "sample-1"
    accepts = {url.split("?")[0]: kw["headers"]["Accept"] for url, kw in sent(http, "GET")}
    assert accepts[f"{BASE}/{BATCH}"].startswith(V3)
    assert accepts[f"{BASE}/{BATCH}/items/{ITEM}"].startswith(V4)
    assert accepts[f"{BASE}/{BATCH}/items"].startswith(V4)
