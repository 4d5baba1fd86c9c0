"""Contract: libica 3.3's sync v3 client performs the 15 ICA operations and accepts every answer.

libica is a test-only dependency. Its ApiClient puts ``Accept: v3`` in its default headers, which
override each operation's own Accept (libica issue #139, API-NOTES C); V4 answers therefore need
the default header switched to v4, exactly as real users of libica must do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ica_tapis_async.simulator import Simulator

libica = pytest.importorskip("libica.openapi.v3")

from libica.openapi.v3 import (  # noqa: E402
    ApiClient,
    Configuration,
    ProjectAnalysisCreationBatchApi,
    ProjectDataLinkingBatchApi,
    ProjectDataTransferApi,
    ProjectDataUpdateBatchApi,
    TokenApi,
)
from libica.openapi.v3.exceptions import ApiException  # noqa: E402
from libica.openapi.v3.models import (  # noqa: E402
    CreateAnalysisCreationBatch,
    CreateProjectDataLinkingBatch,
    CreateProjectDataUpdateBatch,
)

from .helpers import PROJECT, V3, V4, cwl_item  # noqa: E402

KEY = "libica-key"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A simulator in a background thread (libica is synchronous)."""
    with Simulator(api_keys={KEY}, basic_credentials={"lib@example.org:pw"}) as simulator:
        yield simulator


def _client(sim: Simulator, **auth: Any) -> ApiClient:
    if not auth:
        auth = {"api_key": {"ApiKeyAuth": KEY}}
    return ApiClient(Configuration(host=sim.ica_url, **auth))


def test_linking_batch_operations(sim: Simulator) -> None:
    """create (v3 and v4), get, items (v4 model), item: libica's models accept every answer."""
    with _client(sim) as client:
        api = ProjectDataLinkingBatchApi(client)
        body = CreateProjectDataLinkingBatch.from_dict(
            {
                "items": [
                    {"dataId": "fil.lib1"},
                    {"dataId": "fol.partialLib"},
                    {"dataId": "fil.missingLib"},
                ]
            }
        )
        # libica's defaults send Content-Type v4 with its default Accept v3: ICA refuses that
        with pytest.raises(ApiException) as refused:
            api.create_project_data_linking_batch(PROJECT, body)
        assert refused.value.status == 400
        assert "ICA_API_004" in str(refused.value.body)
        v3_batch = api.create_project_data_linking_batch(PROJECT, body, _content_type=V3)
        client.set_default_header("Accept", V4)
        batch = api.create_project_data_linking_batch(
            PROJECT, CreateProjectDataLinkingBatch.from_dict({"items": [{"dataId": "fil.lib2"}]})
        )
        sim.advance_clock(5)
        client.set_default_header("Accept", V3)
        got = api.get_project_data_linking_batch(PROJECT, batch.id)
        assert got.job.status == "SUCCEEDED"
        assert got.job.owner.email
        v3_items = api.get_project_data_linking_batch_items(PROJECT, v3_batch.id, page_size="10")
        assert [i.processing.status for i in v3_items.items] == ["LINKED", "FAILED", "FAILED"]
        client.set_default_header("Accept", V4)
        v4_items = api.get_project_data_linking_batch_items(
            PROJECT, v3_batch.id, status=["PARTIALLY_LINKED", "LINKED"], page_offset="0"
        )
        assert [i.processing.status for i in v4_items.items] == ["LINKED", "PARTIALLY_LINKED"]
        assert v4_items.total_item_count == 2
        item = api.get_project_data_linking_batch_item(PROJECT, v3_batch.id, v4_items.items[0].id)
        assert item.created_project_data is not None
        assert item.created_project_data.data.id == "fil.lib1"


def test_update_batch_operations(sim: Simulator) -> None:
    """create, get, items, item of update batches."""
    with _client(sim) as client:
        api = ProjectDataUpdateBatchApi(client)
        body = CreateProjectDataUpdateBatch.from_dict(
            {
                "dataUpdateGroups": [
                    {
                        "dataIds": ["fil.u1", "fol.u2"],
                        "userTags": {"addTags": ["a"], "removeTags": []},
                        "willBeDeletedAt": "2031-01-01T00:00:00Z",
                    }
                ]
            }
        )
        batch = api.create_project_data_update_batch(PROJECT, body, _content_type=V3)
        sim.advance_clock(5)
        assert (
            api.get_project_data_update_batch(PROJECT, batch.id).job.status == "PARTIALLY_SUCCEEDED"
        )
        items = api.get_project_data_update_batch_items(
            PROJECT, batch.id, status=["UPDATED", "FAILED"]
        )
        assert [i.processing.status for i in items.items] == ["UPDATED", "FAILED"]
        assert items.remaining_records == 0
        item = api.get_project_data_update_batch_item(PROJECT, batch.id, items.items[0].id)
        assert item.request.data_id == "fil.u1"
        assert sim.data("fil.u1")["details"]["tags"]["userTags"] == ["a"]


def test_analysis_batch_operations(sim: Simulator) -> None:
    """create (with an Idempotency-Key), get, items and item as AnalysisV4."""
    with _client(sim) as client:
        api = ProjectAnalysisCreationBatchApi(client)
        body = CreateAnalysisCreationBatch.from_dict(
            {"cwlItems": [cwl_item("lib-1"), cwl_item("lib-2", "pipe-missing")]}
        )
        batch = api.create_analysis_creation_batch(PROJECT, body, idempotency_key="lib-key")
        again = api.create_analysis_creation_batch(PROJECT, body, idempotency_key="lib-key")
        assert again.id == batch.id
        sim.advance_clock(5)
        assert (
            api.get_analysis_creation_batch(PROJECT, batch.id).job.status == "PARTIALLY_SUCCEEDED"
        )
        client.set_default_header("Accept", V4)
        items = api.get_analysis_creation_batch_items(PROJECT, batch.id)
        assert [i.processing.status for i in items.items] == ["SUCCEEDED", "FAILED"]
        item = api.get_analysis_creation_batch_item(PROJECT, batch.id, items.items[0].id)
        assert item.created_analysis is not None
        assert item.created_analysis.user_reference == "lib-1"
        assert sim.stats.analyses_by_user_reference == {"lib-1": 1}


def test_data_transfer_operations(sim: Simulator) -> None:
    """list (cursor, filters, sort), get, abort."""
    with _client(sim) as client:
        api = ProjectDataTransferApi(client)
        page = api.get_data_transfers(PROJECT, page_size="10")
        assert len(page.items) == 10
        assert page.next_page_token
        rest = api.get_data_transfers(PROJECT, page_size="100", page_token=page.next_page_token)
        assert len(rest.items) == 15
        sorted_page = api.get_data_transfers(
            PROJECT, sort="status, reference desc", direction="UPLOAD"
        )
        assert all(t.direction == "UPLOAD" for t in sorted_page.items)
        transfer = api.get_data_transfer(PROJECT, str(page.items[2].id))
        assert transfer.id == page.items[2].id
        abortable = next(
            t for t in page.items + rest.items if t.status not in ("SUCCEEDED", "FAILED", "ABORTED")
        )
        assert api.abort_data_transfer(PROJECT, str(abortable.id)) is None
        assert api.get_data_transfer(PROJECT, str(abortable.id)).status == "ABORTREQUESTED"


def test_token_operations(sim: Simulator) -> None:
    """createJwtToken with an API key and with Basic; refreshJwtToken for the latter."""
    with _client(sim) as client:
        token = TokenApi(client).create_jwt_token()
        assert token.token
        assert token.token.count(".") == 2
    with _client(sim, username="lib@example.org", password="pw") as client:
        basic_token = TokenApi(client).create_jwt_token(tenant="sim")
    with _client(sim, access_token=basic_token.token) as client:
        sim.advance_clock(2)
        refreshed = TokenApi(client).refresh_jwt_token()
        assert refreshed.token
        assert refreshed.token != basic_token.token
        # and the JWT works for the other operations
        assert ProjectDataTransferApi(client).get_data_transfers(PROJECT, page_size="1").items
    with _client(sim, access_token=token.token) as client, pytest.raises(ApiException) as refused:
        TokenApi(client).refresh_jwt_token()
    assert refused.value.status == 400
