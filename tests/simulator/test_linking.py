"""Linking batches: create, progression, v3/v4 statuses, ALREADY_LINKED, limits, 404s."""

from __future__ import annotations

import time

import aiohttp

from ica_tapis_async.simulator import Simulator

from .helpers import V3, V4, Ica


async def test_linking_batch_progresses_to_final_statuses() -> None:
    """Items go INITIALISED -> ... -> LINKED/PARTIALLY_LINKED/FAILED and the Job follows."""
    async with Simulator(step_s=10.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        ids = ["fil.aaa", "fol.partial1", "fil.missing1", "not-an-id"]
        status, batch, headers = await ica.call(
            "POST", "/dataLinkingBatch", version=V4, json={"items": [{"dataId": d} for d in ids]}
        )
        assert status == 201
        assert headers["Content-Type"] == V4
        assert batch["job"]["status"] == "INITIALIZED"
        assert batch["job"]["subjectType"] == "ProjectDataLinkingBatch"
        assert batch["job"]["subjectId"] == batch["id"]
        _, page, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4)
        assert {i["processing"]["status"] for i in page["items"]} == {"INITIALISED"}
        sim.advance_clock(15)
        _, job, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}")
        assert job["job"]["status"] == "WAITING_FOR_RESOURCES"
        sim.advance_clock(10)
        _, page, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4)
        assert {i["processing"]["status"] for i in page["items"]} == {"RUNNING"}
        _, job, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}")
        assert job["job"]["status"] == "RUNNING"
        sim.advance_clock(10)
        _, page, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4)
        statuses = [i["processing"]["status"] for i in page["items"]]
        assert statuses == ["LINKED", "PARTIALLY_LINKED", "FAILED", "FAILED"]
        assert page["items"][0]["createdProjectData"]["data"]["id"] == "fil.aaa"
        assert page["items"][0]["createdProjectData"]["projectId"] == ica.project
        assert "createdProjectData" not in page["items"][2]
        assert page["items"][2]["processing"]["additionalStatusInformation"]
        _, job, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}")
        assert job["job"]["status"] == "PARTIALLY_SUCCEEDED"
        assert job["job"]["timeFinished"] is not None


async def test_v3_reports_partially_linked_as_failed() -> None:
    """The v3 media type shows PARTIALLY_LINKED as FAILED, and filters accordingly."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        _, batch, _ = await ica.call(
            "POST", "/dataLinkingBatch", version=V3, json={"items": [{"dataId": "fol.partialX"}]}
        )
        sim.advance_clock(5)
        path = f"/dataLinkingBatch/{batch['id']}/items"
        _, v4, _ = await ica.call("GET", path, version=V4)
        _, v3, headers = await ica.call("GET", path, version=V3)
        assert headers["Content-Type"] == V3
        assert v4["items"][0]["processing"]["status"] == "PARTIALLY_LINKED"
        assert v3["items"][0]["processing"]["status"] == "FAILED"
        _, failed, _ = await ica.call("GET", path, version=V3, params={"status": "FAILED"})
        assert len(failed["items"]) == 1
        _, one, _ = await ica.call("GET", f"{path}/{v4['items'][0]['id']}", version=V3)
        assert one["processing"]["status"] == "FAILED"


async def test_resubmission_gives_already_linked() -> None:
    """A data id already linked to the project comes back ALREADY_LINKED (also within a batch)."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        body = {"items": [{"dataId": "fil.one"}, {"dataId": "fol.two"}]}
        _, first, _ = await ica.call("POST", "/dataLinkingBatch", version=V4, json=body)
        _, second, _ = await ica.call(
            "POST",
            "/dataLinkingBatch",
            version=V4,
            json={"items": [*body["items"], {"dataId": "fil.three"}, {"dataId": "fil.three"}]},
        )
        other = Ica(sim, http, project="7d0c5a1e-2b3f-4c5d-8e9f-0a1b2c3d4e5f")
        _, elsewhere, _ = await other.call("POST", "/dataLinkingBatch", version=V4, json=body)
        sim.advance_clock(5)
        _, page1, _ = await ica.call("GET", f"/dataLinkingBatch/{first['id']}/items", version=V4)
        _, page2, _ = await ica.call("GET", f"/dataLinkingBatch/{second['id']}/items", version=V4)
        _, page3, _ = await other.call(
            "GET", f"/dataLinkingBatch/{elsewhere['id']}/items", version=V4
        )
        assert [i["processing"]["status"] for i in page1["items"]] == ["LINKED", "LINKED"]
        assert [i["processing"]["status"] for i in page2["items"]] == [
            "ALREADY_LINKED",
            "ALREADY_LINKED",
            "LINKED",
            "ALREADY_LINKED",
        ]
        assert [i["processing"]["status"] for i in page3["items"]] == ["LINKED", "LINKED"]
        _, job, _ = await ica.call("GET", f"/dataLinkingBatch/{second['id']}")
        assert job["job"]["status"] == "SUCCEEDED"
        assert sim.stats.link_submissions["fil.one"] == 3
        assert sim.links(ica.project) == {"fil.one", "fol.two", "fil.three"}


async def test_thousand_items_finish_fast() -> None:
    """With test defaults a batch of 1,000 items completes well under a second."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        items = [{"dataId": f"fil.x{i}"} for i in range(1000)]
        started = time.monotonic()
        _, batch, _ = await ica.call("POST", "/dataLinkingBatch", version=V4, json={"items": items})
        while True:
            _, job, _ = await ica.call("GET", f"/dataLinkingBatch/{batch['id']}")
            if job["job"]["status"] == "SUCCEEDED":
                break
            assert time.monotonic() - started < 1.0
            await __import__("asyncio").sleep(0.02)
        assert time.monotonic() - started < 1.0
        assert sim.stats.items["linking"] == 1000


async def test_linking_validation_and_limits() -> None:
    """Bad bodies are 400 Problems naming the field; more than max_linking_items is refused."""
    async with Simulator(max_linking_items=3) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        status, problem, headers = await ica.call(
            "POST", "/dataLinkingBatch", version=V4, json={"items": [{"dataId": ""}, {}]}
        )
        assert status == 400
        assert headers["Content-Type"] == "application/problem+json"
        assert problem["parameters"] == {
            "items[0].dataId": "must not be blank",
            "items[1].dataId": "must not be null",
        }
        assert {
            "id",
            "type",
            "title",
            "status",
            "detail",
            "instance",
            "parameters",
            "timestamp",
        } <= problem.keys()
        status, problem, _ = await ica.call(
            "POST",
            "/dataLinkingBatch",
            version=V4,
            json={"items": [{"dataId": "fil.a", "extra": 1}]},
        )
        assert status == 400
        assert "items[0].extra" in problem["parameters"]
        status, problem, _ = await ica.call(
            "POST",
            "/dataLinkingBatch",
            version=V4,
            json={"items": [{"dataId": f"fil.{i}"} for i in range(4)]},
        )
        assert status == 400
        assert "items" in problem["parameters"]
        status, problem, _ = await ica.call(
            "POST", "/dataLinkingBatch", version=V4, json={"items": []}
        )
        assert status == 400
        assert "items" in problem["parameters"]
        async with http.post(
            ica.url("/dataLinkingBatch"),
            data=b"{not json",
            headers={"X-API-Key": "k", "Accept": V4, "Content-Type": V4},
        ) as resp:
            assert resp.status == 400
        assert sim.stats.batches == {}


async def test_unknown_and_malformed_ids_are_404_and_400() -> None:
    """Unknown batch/item ids are 404 Problems; malformed uuids 400 naming the parameter."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        status, problem, _ = await ica.call(
            "GET", "/dataLinkingBatch/8a1c2f7e-3d4b-4c5a-9e8f-7a6b5c4d3e2f"
        )
        assert status == 404
        assert problem["status"] == 404
        status, problem, _ = await ica.call("GET", "/dataLinkingBatch/not-a-uuid")
        assert status == 400
        assert "batchId" in problem["parameters"]
        _, batch, _ = await ica.call(
            "POST", "/dataLinkingBatch", version=V4, json={"items": [{"dataId": "fil.a"}]}
        )
        status, _, _ = await ica.call(
            "GET",
            f"/dataLinkingBatch/{batch['id']}/items/8a1c2f7e-3d4b-4c5a-9e8f-7a6b5c4d3e2f",
            version=V4,
        )
        assert status == 404
        status, problem, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}/items/xyz", version=V4
        )
        assert status == 400
        assert "itemId" in problem["parameters"]
        # a batch of one kind is not found under another kind or another project
        status, _, _ = await ica.call("GET", f"/dataUpdateBatch/{batch['id']}")
        assert status == 404
        status, _, _ = await Ica(sim, http, "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70").call(
            "GET", f"/dataLinkingBatch/{batch['id']}"
        )
        assert status == 404


async def test_item_ids_are_stable_and_resolvable() -> None:
    """Every listed item id is a uuid that GET item resolves to the same item."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        items = [{"dataId": f"fil.s{i}"} for i in range(50)]
        _, batch, _ = await ica.call("POST", "/dataLinkingBatch", version=V4, json={"items": items})
        _, page, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4, params={"pageSize": "50"}
        )
        _, again, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4, params={"pageSize": "50"}
        )
        assert [i["id"] for i in page["items"]] == [i["id"] for i in again["items"]]
        assert len({i["id"] for i in page["items"]}) == 50
        for item in page["items"][::7]:
            _, one, _ = await ica.call(
                "GET", f"/dataLinkingBatch/{batch['id']}/items/{item['id']}", version=V4
            )
            assert one["request"] == item["request"]


async def test_v3_folder_expansion_knob() -> None:
    """With v3_folder_contents a V3 create adds the folder's files as separate items."""
    async with Simulator(v3_folder_contents=2) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        _, v3, _ = await ica.call(
            "POST", "/dataLinkingBatch", version=V3, json={"items": [{"dataId": "fol.abc"}]}
        )
        _, v4, _ = await ica.call(
            "POST", "/dataLinkingBatch", version=V4, json={"items": [{"dataId": "fol.def"}]}
        )
        _, p3, _ = await ica.call("GET", f"/dataLinkingBatch/{v3['id']}/items", version=V3)
        _, p4, _ = await ica.call("GET", f"/dataLinkingBatch/{v4['id']}/items", version=V4)
        assert [i["request"]["dataId"] for i in p3["items"]] == [
            "fol.abc",
            "fil.abcf0",
            "fil.abcf1",
        ]
        assert len(p4["items"]) == 1
