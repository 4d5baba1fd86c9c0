"""ICA data transfers: seeding, filters, sort, paging, ETag, abort and its 409."""

from __future__ import annotations

from typing import Any

import aiohttp

from ica_tapis_async.simulator import Simulator

from .helpers import Ica

FINISHED = {"SUCCEEDED", "FAILED", "ABORTED"}


async def _all(ica: Ica, **params: str) -> list[dict[str, Any]]:
    _, page, _ = await ica.call("GET", "/dataTransfers", params={"pageSize": "1000", **params})
    return list(page["items"])


async def test_seeded_transfers_are_mixed_and_deterministic() -> None:
    """Each project starts with 25 mixed transfers; the same seed gives the same ones."""
    async with Simulator(seed=7) as a, Simulator(seed=7) as b, aiohttp.ClientSession() as http:
        first, second = await _all(Ica(a, http)), await _all(Ica(b, http))
        assert len(first) == 25
        assert [t["id"] for t in first] == [t["id"] for t in second]
        assert {t["direction"] for t in first} == {"UPLOAD", "DOWNLOAD", "IMPORT"}
        assert len({t["status"] for t in first}) >= 3
        other = await _all(Ica(a, http, "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"))
        assert not {t["id"] for t in other} & {t["id"] for t in first}
        with_connector = [t for t in first if "connector" in t]
        assert with_connector
        assert all(t["connector"]["mode"] in ("BOTH", "UPLOAD") for t in with_connector)


async def test_transfers_progress_over_time() -> None:
    """Transfers that were pending or ongoing finish as time passes."""
    async with Simulator(transfer_duration_s=1.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        before = {t["id"]: t for t in await _all(ica)}
        sim.advance_clock(5)
        after = {t["id"]: t for t in await _all(ica)}
        moved = [i for i in before if before[i]["status"] != after[i]["status"]]
        assert moved
        assert all(after[i]["status"] in FINISHED for i in moved)
        assert all(after[i]["dataTransferred"] >= before[i]["dataTransferred"] for i in before)


async def test_filters_sort_and_paging() -> None:
    """connector/direction/status filter; sort pages by offset; cursor pages by default."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        everything = await _all(ica)
        uploads = await _all(ica, direction="UPLOAD")
        assert uploads
        assert all(t["direction"] == "UPLOAD" for t in uploads)
        assert len(uploads) == sum(t["direction"] == "UPLOAD" for t in everything)
        some_status = everything[0]["status"]
        by_status = await _all(ica, status=str(some_status))
        assert by_status
        assert all(t["status"] == some_status for t in by_status)
        connector = next(t["connector"]["id"] for t in everything if "connector" in t)
        by_connector = await _all(ica, connector=str(connector))
        assert by_connector
        assert all(t.get("connector", {}).get("id") == connector for t in by_connector)
        _, page, _ = await ica.call(
            "GET", "/dataTransfers", params={"sort": "direction, reference desc", "pageSize": "10"}
        )
        assert page["nextPageToken"] == ""
        assert page["totalItemCount"] == 25
        expected = sorted(everything, key=lambda t: str(t["reference"]), reverse=True)
        expected.sort(key=lambda t: str(t["direction"]))
        assert [t["id"] for t in page["items"]] == [t["id"] for t in expected[:10]]
        _, p2, _ = await ica.call(
            "GET",
            "/dataTransfers",
            params={"sort": "dataTransferred desc", "pageOffset": "20", "pageSize": "10"},
        )
        assert len(p2["items"]) == 5
        ids: list[str] = []
        params = {"pageSize": "10"}
        while True:
            _, page, _ = await ica.call("GET", "/dataTransfers", params=params)
            ids += [t["id"] for t in page["items"]]
            if not page["nextPageToken"]:
                break
            params = {"pageSize": "10", "pageToken": page["nextPageToken"]}
        assert ids == [t["id"] for t in everything]
        for params, field in (
            ({"sort": "colour"}, "sort"),
            ({"direction": "SIDEWAYS"}, "direction"),
            ({"status": "DONE"}, "status"),
        ):
            status, problem, _ = await ica.call("GET", "/dataTransfers", params=params)
            assert status == 400
            assert field in problem["parameters"]


async def test_get_with_etag_and_404() -> None:
    """GET one sends an ETag that changes with the transfer; unknown ids are 404."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        # a finished transfer: a running one moves bytes between the two reads (new ETag)
        transfer = next(t for t in await _all(ica) if t["status"] in FINISHED)
        status, one, headers = await ica.call("GET", f"/dataTransfers/{transfer['id']}")
        assert status == 200
        assert one["id"] == transfer["id"]
        assert headers["ETag"].startswith('"')
        _, _, again = await ica.call("GET", f"/dataTransfers/{transfer['id']}")
        assert again["ETag"] == headers["ETag"]
        status, problem, _ = await ica.call(
            "GET", "/dataTransfers/6f5e4d3c-2b1a-4098-8765-43210fedcba9"
        )
        assert status == 404
        assert problem["status"] == 404


async def test_abort_then_409_for_finished() -> None:
    """Abort answers 204: ABORTREQUESTED then ABORTED; a finished transfer gives 409."""
    # long steps: a loaded machine must not finish the abort between two calls
    async with (
        Simulator(transfer_duration_s=30.0, step_s=5.0) as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        transfers = await _all(ica)
        running = next(t for t in transfers if t["status"] not in FINISHED)
        finished = next(t for t in transfers if t["status"] in FINISHED)
        status, body, _ = await ica.call("POST", f"/dataTransfers/{running['id']}:abort")
        assert status == 204
        assert body is None
        _, one, _ = await ica.call("GET", f"/dataTransfers/{running['id']}")
        assert one["status"] == "ABORTREQUESTED"
        status, _, _ = await ica.call("POST", f"/dataTransfers/{running['id']}:abort")
        assert status == 204
        sim.advance_clock(10)
        _, one, _ = await ica.call("GET", f"/dataTransfers/{running['id']}")
        assert one["status"] == "ABORTED"
        status, problem, _ = await ica.call("POST", f"/dataTransfers/{running['id']}:abort")
        assert status == 409
        status, problem, _ = await ica.call("POST", f"/dataTransfers/{finished['id']}:abort")
        assert status == 409
        assert problem["parameters"] == {"dataTransferId": finished["id"]}
        status, _, _ = await ica.call(
            "POST", "/dataTransfers/6f5e4d3c-2b1a-4098-8765-43210fedcba9:abort"
        )
        assert status == 404
        assert sim.stats.transfers_aborted == 1


async def test_known_projects_knob() -> None:
    """With known_projects, other projects are 404 Problems."""
    async with (
        Simulator(known_projects={"2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"}) as sim,
        aiohttp.ClientSession() as http,
    ):
        status, problem, _ = await Ica(sim, http).call("GET", "/dataTransfers")
        assert status == 404
        assert "projectId" in problem["parameters"]
        status, _, _ = await Ica(sim, http, "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f").call(
            "GET", "/dataTransfers"
        )
        assert status == 200
