"""Update batches: statuses, tags and dates applied to the data store, limits."""

from __future__ import annotations

import aiohttp

from ica_tapis_async.simulator import Simulator

from .helpers import Ica


async def test_update_batch_applies_tags_and_dates() -> None:
    """Items go UPDATING -> UPDATED and their changes reach the data store once done."""
    async with Simulator(step_s=1.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        body = {
            "dataUpdateGroups": [
                {
                    "dataIds": ["fil.u1", "fil.u2"],
                    "userTags": {"addTags": ["keep", "drop"]},
                    "willBeArchivedAt": "2030-01-30T08:30:00Z",
                },
                {
                    "dataIds": ["fil.u1"],
                    "userTags": {"removeTags": ["drop"]},
                    "technicalTags": {"addTags": ["qc"]},
                },
            ]
        }
        status, batch, _ = await ica.call("POST", "/dataUpdateBatch", json=body)
        assert status == 201
        assert batch["job"]["subjectType"] == "ProjectDataUpdateBatch"
        assert sim.data("fil.u1")["details"]["tags"]["userTags"] == []
        sim.advance_clock(2.5)
        _, page, _ = await ica.call("GET", f"/dataUpdateBatch/{batch['id']}/items")
        assert {i["processing"]["status"] for i in page["items"]} == {"UPDATING"}
        sim.advance_clock(2)
        _, page, _ = await ica.call("GET", f"/dataUpdateBatch/{batch['id']}/items")
        assert [i["processing"]["status"] for i in page["items"]] == ["UPDATED"] * 3
        assert page["items"][0]["request"] == {
            "dataId": "fil.u1",
            "userTags": {"addTags": ["keep", "drop"]},
            "willBeArchivedAt": "2030-01-30T08:30:00Z",
        }
        u1 = sim.data("fil.u1")["details"]
        assert u1["tags"]["userTags"] == ["keep"]
        assert u1["tags"]["technicalTags"] == ["qc"]
        assert u1["willBeArchivedAt"] == "2030-01-30T08:30:00Z"
        assert sim.data("fil.u2")["details"]["tags"]["userTags"] == ["keep", "drop"]
        _, job, _ = await ica.call("GET", f"/dataUpdateBatch/{batch['id']}")
        assert job["job"]["status"] == "SUCCEEDED"
        _, item, _ = await ica.call(
            "GET", f"/dataUpdateBatch/{batch['id']}/items/{page['items'][2]['id']}"
        )
        assert item["request"]["dataId"] == "fil.u1"
        # clearing a date
        clear = {"dataUpdateGroups": [{"dataIds": ["fil.u1"], "clearWillBeArchivedAt": True}]}
        await ica.call("POST", "/dataUpdateBatch", json=clear)
        sim.advance_clock(10)
        assert sim.data("fil.u1")["details"]["willBeArchivedAt"] is None


async def test_update_failures_and_partial_folders() -> None:
    """Unknown data and dates on folders fail; partial folders are PARTIALLY_UPDATED."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        body = {
            "dataUpdateGroups": [
                {
                    "dataIds": ["fil.missingA", "fol.partialB", "fil.ok"],
                    "userTags": {"addTags": ["x"]},
                },
                {"dataIds": ["fol.dated"], "willBeDeletedAt": "2031-01-01T00:00:00Z"},
            ]
        }
        _, batch, _ = await ica.call("POST", "/dataUpdateBatch", json=body)
        sim.advance_clock(5)
        _, page, _ = await ica.call("GET", f"/dataUpdateBatch/{batch['id']}/items")
        statuses = [i["processing"]["status"] for i in page["items"]]
        assert statuses == ["FAILED", "PARTIALLY_UPDATED", "UPDATED", "FAILED"]
        assert "folder" in page["items"][3]["processing"]["additionalStatusInformation"]
        _, job, _ = await ica.call("GET", f"/dataUpdateBatch/{batch['id']}")
        assert job["job"]["status"] == "PARTIALLY_SUCCEEDED"
        _, only_failed, _ = await ica.call(
            "POST", "/dataUpdateBatch", json={"dataUpdateGroups": [{"dataIds": ["fil.missingZ"]}]}
        )
        sim.advance_clock(5)
        _, job, _ = await ica.call("GET", f"/dataUpdateBatch/{only_failed['id']}")
        assert job["job"]["status"] == "FAILED"


async def test_update_limits_and_validation() -> None:
    """More than max_update_data_ids, bad dates or v4 bodies are refused."""
    async with (
        Simulator(max_update_data_ids=5, folder_dates="reject") as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        many = {
            "dataUpdateGroups": [
                {"dataIds": [f"fil.{i}" for i in range(3)]},
                {"dataIds": [f"fil.{i}" for i in range(3)]},
            ]
        }
        status, problem, _ = await ica.call("POST", "/dataUpdateBatch", json=many)
        assert status == 400
        assert "dataUpdateGroups" in problem["parameters"]
        bad_date = {"dataUpdateGroups": [{"dataIds": ["fil.a"], "willBeArchivedAt": "tomorrow"}]}
        status, problem, _ = await ica.call("POST", "/dataUpdateBatch", json=bad_date)
        assert status == 400
        assert "dataUpdateGroups[0].willBeArchivedAt" in problem["parameters"]
        folder = {
            "dataUpdateGroups": [
                {"dataIds": ["fil.a", "fol.b"], "willBeArchivedAt": "2030-01-01T00:00:00Z"}
            ]
        }
        status, problem, _ = await ica.call("POST", "/dataUpdateBatch", json=folder)
        assert status == 400
        assert "dataUpdateGroups[0].dataIds[1]" in problem["parameters"]
        both = {
            "dataUpdateGroups": [
                {
                    "dataIds": ["fil.a"],
                    "willBeArchivedAt": "2030-01-01T00:00:00Z",
                    "clearWillBeArchivedAt": True,
                }
            ]
        }
        status, problem, _ = await ica.call("POST", "/dataUpdateBatch", json=both)
        assert status == 400
        assert "dataUpdateGroups[0].clearWillBeArchivedAt" in problem["parameters"]
        status, _, _ = await ica.call(
            "POST",
            "/dataUpdateBatch",
            json={"dataUpdateGroups": [{"dataIds": ["fil.a"]}]},
            headers={"Content-Type": "application/json"},
        )
        assert status == 201


async def test_update_batch_limit_default_is_100000() -> None:
    """The documented default refuses 100,001 data ids."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        body = {"dataUpdateGroups": [{"dataIds": [f"fil.{i}" for i in range(100_001)]}]}
        status, problem, _ = await ica.call("POST", "/dataUpdateBatch", json=body)
        assert status == 400
        assert "dataUpdateGroups" in problem["parameters"]
