"""tapis.transfers: envelope handling, paths, list paging, errors by HTTP code."""

from __future__ import annotations

import re

import orjson
import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import TAPIS, TAPIS_TOKEN, UUID, envelope, queries, sent, task

BASE = f"{TAPIS}/v3/files/transfers"


async def test_create(http: FakeTransport, tapis: ita.TapisClient) -> None:
    """create POSTs ReqTransfer JSON with the token and returns the ACCEPTED task."""
    http.post(BASE, payload=envelope(task(), "FAPI_TXFR_CREATED Transfer task created."))
    got = await tapis.transfers.create(
        [ita.ReqTransferElement("tapis://a/x", "tapis://b/x", optional=True)], tag="run-1"
    )
    assert got.status == ita.TransferStatus.ACCEPTED
    assert got.uuid == UUID
    [(_, kwargs)] = sent(http, "POST")
    assert kwargs["headers"]["X-Tapis-Token"] == TAPIS_TOKEN
    assert orjson.loads(kwargs["data"]) == {
        "elements": [
            {"sourceURI": "tapis://a/x", "destinationURI": "tapis://b/x", "optional": True}
        ],
        "tag": "run-1",
    }


async def test_create_validates(tapis: ita.TapisClient) -> None:
    """Empty elements and over-long tags are refused before sending."""
    with pytest.raises(ita.RequestValidationError, match="elements"):
        await tapis.transfers.create([])
    with pytest.raises(ita.RequestValidationError, match="tag"):
        await tapis.transfers.create([ita.ReqTransferElement("a", "b")], tag="x" * 266)


async def test_get_details_cancel(http: FakeTransport, tapis: ita.TapisClient) -> None:
    """get (with summary), details and cancel hit the right paths."""
    http.get(f"{BASE}/{UUID}?includeSummary=true", payload=envelope(task(status="IN_PROGRESS")))
    detailed = task(status="COMPLETED")
    detailed["parentTasks"] = [
        {
            "uuid": UUID,
            "status": "COMPLETED",
            "children": [{"uuid": UUID, "status": "COMPLETED", "retries": 1, "dir": False}],
        }
    ]
    http.get(f"{BASE}/{UUID}/details", payload=envelope(detailed))
    http.delete(f"{BASE}/{UUID}", payload=envelope(None, "FAPI_TXFR_CANCELLED cancelled"))
    assert (await tapis.transfers.get(UUID, include_summary=True)).status == "IN_PROGRESS"
    full = await tapis.transfers.details(UUID)
    assert full.parent_tasks
    assert full.parent_tasks[0].children
    assert full.parent_tasks[0].children[0].retries == 1
    assert "CANCELLED" in (await tapis.transfers.cancel(UUID) or "")


async def test_list_recent_pages_by_limit_offset(
    http: FakeTransport, tapis: ita.TapisClient
) -> None:
    """list_recent walks limit/offset pages until a short page."""
    pattern = re.compile(re.escape(BASE) + r"\?.*")
    http.get(pattern, payload=envelope([task(), task()]))
    http.get(pattern, payload=envelope([task()]))
    got = await tapis.transfers.list_recent(page_size=2).collect()
    assert len(got) == 3
    assert queries(http) == [[("limit", "2"), ("offset", "0")], [("limit", "2"), ("offset", "2")]]


async def test_list_recent_of_a_server_ignoring_the_offset_raises(
    http: FakeTransport, tapis: ita.TapisClient
) -> None:
    """Full pages that repeat the first one raise PaginationError instead of looping forever."""
    pattern = re.compile(re.escape(BASE) + r"\?.*")
    http.get(pattern, payload=envelope([task(f"u-{i}") for i in range(2)]), repeat=True)
    with pytest.raises(ita.PaginationError):
        await tapis.transfers.list_recent(page_size=2).collect()
    assert len(http.sent) == 2


@pytest.mark.parametrize(
    ("status", "body", "cls", "text"),
    [
        (
            404,
            {
                "status": "Not Found",
                "message": "FILES_TXFR_SVC_NOT_FOUND Task not found.",
                "result": None,
                "version": "1",
                "metadata": None,
            },
            ita.NotFoundError,
            "FILES_TXFR_SVC_NOT_FOUND",
        ),
        (
            400,
            {"status": "error", "message": "limit must be <= 1000", "result": None, "metadata": {}},
            ita.BadRequestError,
            "limit must be",
        ),
        (
            403,
            {"status": "Forbidden", "message": "not yours", "result": None},
            ita.PermissionDeniedError,
            "not yours",
        ),
    ],
)
async def test_errors_branch_on_http_code(
    http: FakeTransport,
    tapis: ita.TapisClient,
    status: int,
    body: dict[str, object],
    cls: type[ita.APIStatusError],
    text: str,
) -> None:
    """The envelope's status string is ignored; the HTTP code picks the class; message is used."""
    http.get(f"{BASE}/{UUID}", status=status, payload=body)
    with pytest.raises(cls, match=text) as info:
        await tapis.transfers.get(UUID)
    assert info.value.status == status
    assert info.value.problem is None
