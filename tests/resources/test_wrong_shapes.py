"""Bodies of the wrong shape are errors, not empty models (issue 20, point 5).

A string, an array or an HTML page where an object belongs (the Tapis ``result``, nested
objects such as ``details.tags`` or ``parentTasks``) raises ResponseValidationError, even for
models whose every field is optional; a Tapis cancel answered by an HTML page is no success.
"""

from __future__ import annotations

from typing import Any

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import ICA, PROJECT, TAPIS, UUID, data_transfer, envelope

TASKS = f"{TAPIS}/v3/files/transfers"
TRANSFER_URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"
HTML = "<html><head><title>Gateway</title></head><body>Service maintenance</body></html>"


def _html(http: FakeTransport, method: str, url: str) -> None:
    http.add(method, url, body=HTML, headers={"Content-Type": "text/html"})


@pytest.mark.parametrize(
    "result",
    ["a string", ["a", "list"], [], 5, True],
    ids=["string", "list", "empty-list", "number", "boolean"],
)
async def test_a_tapis_result_that_is_no_object_is_refused(
    http: FakeTransport, tapis: ita.TapisClient, result: Any
) -> None:
    """get: a result of the wrong JSON kind raises instead of an all-None TransferTask."""
    http.get(f"{TASKS}/{UUID}", payload=envelope(result))
    with pytest.raises(ita.ResponseValidationError, match="expected an object"):
        await tapis.transfers.get(UUID)


@pytest.mark.parametrize(
    ("task", "path"),
    [
        ({"uuid": UUID, "parentTasks": "abc"}, "parentTasks"),
        ({"uuid": UUID, "parentTasks": {"a": 1}}, "parentTasks"),
        ({"uuid": UUID, "parentTasks": ["x"]}, "parentTasks[0]"),
        ({"uuid": UUID, "parentTasks": [{"children": "zz"}]}, "parentTasks[0].children"),
    ],
)
async def test_nested_values_of_the_wrong_shape_are_refused(
    http: FakeTransport, tapis: ita.TapisClient, task: dict[str, Any], path: str
) -> None:
    """details: parentTasks as a string or object, or a parent that is a string, is refused."""
    http.get(f"{TASKS}/{UUID}/details", payload=envelope(task))
    with pytest.raises(ita.ResponseValidationError) as caught:
        await tapis.transfers.details(UUID)
    assert caught.value.path == path


@pytest.mark.parametrize("call", ["get", "details", "cancel", "list_recent"])
async def test_a_tapis_html_page_is_no_answer(
    http: FakeTransport, tapis: ita.TapisClient, call: str
) -> None:
    """An HTML page with 200 (a proxy's) where the envelope belongs raises, cancel included."""
    if call == "cancel":
        _html(http, "DELETE", f"{TASKS}/{UUID}")
        with pytest.raises(ita.ResponseValidationError, match="TapisEnvelope"):
            await tapis.transfers.cancel(UUID)
    elif call == "list_recent":
        http.get(f"{TASKS}?offset=0&limit=1000", body=HTML, headers={"Content-Type": "text/html"})
        with pytest.raises(ita.ResponseValidationError, match="TapisEnvelope"):
            await tapis.transfers.list_recent().collect()
    else:
        path = f"{TASKS}/{UUID}" + ("/details" if call == "details" else "")
        _html(http, "GET", path)
        with pytest.raises(ita.ResponseValidationError, match="TapisEnvelope"):
            await getattr(tapis.transfers, call)(UUID)


@pytest.mark.parametrize("result", ["abc", "", {}, {"a": 1}])
async def test_a_tapis_list_result_that_is_no_array_is_refused(
    http: FakeTransport, tapis: ita.TapisClient, result: Any
) -> None:
    """list_recent: a result "abc" is not three tasks, nor {} or "" an empty list."""
    http.get(f"{TASKS}?offset=0&limit=1000", payload=envelope(result))
    with pytest.raises(ita.ResponseValidationError, match="expected an array"):
        await tapis.transfers.list_recent().collect()


async def test_an_ica_html_page_is_no_model(http: FakeTransport, ica: ita.IcaClient) -> None:
    """An HTML page with 200 where a DataTransfer belongs raises."""
    _html(http, "GET", TRANSFER_URL)
    with pytest.raises(ita.ResponseValidationError, match="expected an object, got string"):
        await ica.data_transfers.get(PROJECT, UUID)


@pytest.mark.parametrize("tags", ["x", ["a"], 3, {"userTags": "a"}])
async def test_ica_nested_details_tags_of_the_wrong_shape_are_refused(
    http: FakeTransport, ica: ita.IcaClient, tags: Any
) -> None:
    """data.details.tags must be an object: a string or a list is refused by its path."""
    body = data_transfer()
    details = {
        "timeCreated": body["timeCreated"],
        "timeModified": body["timeCreated"],
        "tenantId": UUID,
        "owningProjectId": PROJECT,
        "name": "a.bam",
        "status": "AVAILABLE",
        "tags": tags,
        "dataType": "FILE",
    }
    body["data"] = {"id": "fil.1", "details": details}
    http.get(TRANSFER_URL, payload=body)
    with pytest.raises(ita.ResponseValidationError) as caught:
        await ica.data_transfers.get(PROJECT, UUID)
    assert caught.value.path.startswith("data.details.tags")


async def test_an_ica_abort_answered_by_an_html_page_is_no_success(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """abort: a 200 HTML page (a proxy's) raises; ICA's 204 without a body is a success."""
    _html(http, "POST", f"{TRANSFER_URL}:abort")
    with pytest.raises(ita.ResponseValidationError, match="text/html"):
        await ica.data_transfers.abort(PROJECT, UUID)
    http.post(f"{TRANSFER_URL}:abort", status=204)
    await ica.data_transfers.abort(PROJECT, UUID)
