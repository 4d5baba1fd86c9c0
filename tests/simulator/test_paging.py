"""Paging: cursor and offset modes, status filters, pageSize bounds, scale."""

from __future__ import annotations

import time

import aiohttp
import pytest

from ica_tapis_async.simulator import Simulator

from .helpers import V3, V4, Ica


async def _linking(ica: Ica, ids: list[str]) -> str:
    _, batch, _ = await ica.call(
        "POST", "/dataLinkingBatch", version=V4, json={"items": [{"dataId": d} for d in ids]}
    )
    return str(batch["id"])


async def test_cursor_paging_is_complete_and_unique() -> None:
    """Cursor pages (the default) cover every item once; remainingRecords counts down."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        batch = await _linking(ica, [f"fil.p{i}" for i in range(25)])
        seen: list[str] = []
        params: dict[str, str] = {"pageSize": "10"}
        remaining = []
        while True:
            status, page, _ = await ica.call(
                "GET", f"/dataLinkingBatch/{batch}/items", version=V4, params=params
            )
            assert status == 200
            assert "totalItemCount" not in page
            seen += [i["request"]["dataId"] for i in page["items"]]
            remaining.append(page["remainingRecords"])
            if not page["nextPageToken"]:
                break
            params = {"pageSize": "10", "pageToken": page["nextPageToken"]}
        assert seen == [f"fil.p{i}" for i in range(25)]
        assert remaining == [15, 5, 0]


async def test_offset_paging_reports_total() -> None:
    """pageOffset selects offset mode: totalItemCount and an empty nextPageToken."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        batch = await _linking(ica, [f"fil.o{i}" for i in range(12)])
        _, page, _ = await ica.call(
            "GET",
            f"/dataLinkingBatch/{batch}/items",
            version=V4,
            params={"pageOffset": "10", "pageSize": "5"},
        )
        assert page["nextPageToken"] == ""
        assert page["totalItemCount"] == 12
        assert [i["request"]["dataId"] for i in page["items"]] == ["fil.o10", "fil.o11"]
        _, past, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch}/items", version=V4, params={"pageOffset": "50"}
        )
        assert past["items"] == []
        assert past["totalItemCount"] == 12


async def test_status_filter_repeated_and_comma_joined() -> None:
    """status=A&status=B and status=A,B both filter; in offset and cursor mode alike."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        ids = [f"fil.f{i}" if i % 3 else f"fil.missing{i}" for i in range(30)]
        batch = await _linking(ica, ids)
        path = f"/dataLinkingBatch/{batch}/items"
        _, pending, _ = await ica.call("GET", path, version=V4, params={"status": "FAILED"})
        assert pending["items"] == []
        assert pending["remainingRecords"] == 0
        sim.advance_clock(5)
        _, failed, _ = await ica.call("GET", path, version=V4, params={"status": "FAILED"})
        assert [i["request"]["dataId"] for i in failed["items"]] == [
            d for d in ids if "missing" in d
        ]
        _, both, _ = await ica.call(
            "GET", path, version=V4, params=[("status", "FAILED"), ("status", "LINKED")]
        )
        _, joined, _ = await ica.call(
            "GET", path, version=V4, params={"status": "FAILED,LINKED", "pageOffset": "0"}
        )
        assert len(both["items"]) == 30
        assert joined["totalItemCount"] == 30
        _, linked, _ = await ica.call(
            "GET", path, version=V4, params={"status": "LINKED", "pageOffset": "5", "pageSize": "3"}
        )
        assert [i["request"]["dataId"] for i in linked["items"]] == [
            d for d in ids if "missing" not in d
        ][5:8]
        status, problem, _ = await ica.call("GET", path, version=V4, params={"status": "BOGUS"})
        assert status == 400
        assert problem["parameters"] == {"status": "BOGUS"}


@pytest.mark.parametrize("size", ["0", "1001", "ten", "-3"])
async def test_page_size_bounds(size: str) -> None:
    """pageSize outside 1..max_page_size or not a number is a 400 naming pageSize."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        batch = await _linking(ica, ["fil.a"])
        status, problem, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch}/items", version=V4, params={"pageSize": size}
        )
        assert status == 400
        assert "pageSize" in problem["parameters"]


async def test_bad_page_parameters() -> None:
    """Foreign page tokens, negative offsets and token+offset mixes are 400s."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        first = await _linking(ica, [f"fil.a{i}" for i in range(5)])
        second = await _linking(ica, [f"fil.b{i}" for i in range(5)])
        _, page, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{first}/items", version=V4, params={"pageSize": "2"}
        )
        token = page["nextPageToken"]
        for params, name in (
            ({"pageToken": token}, None),
            ({"pageToken": "garbage"}, "pageToken"),
            ({"pageOffset": "-1"}, "pageOffset"),
            ({"pageOffset": "x"}, "pageOffset"),
            ({"pageOffset": "0", "pageToken": token}, "pageOffset"),
        ):
            status, problem, _ = await ica.call(
                "GET", f"/dataLinkingBatch/{second}/items", version=V4, params=params
            )
            assert status == 400
            assert name is None or name in problem["parameters"]


async def test_large_batch_pages_without_materialising() -> None:
    """A 100,000-item batch creates and pages (filtered, deep offset) quickly."""
    async with Simulator(item_rate=1_000_000.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        ids = [f"fil.big{i}" if i % 1000 else f"fil.missing{i}" for i in range(100_000)]
        batch = await _linking(ica, ids)
        sim.advance_clock(5)
        assert len(sim.links(ica.project)) == 99_900  # links made (settled) before the timing
        started = time.monotonic()
        path = f"/dataLinkingBatch/{batch}/items"
        _, failed, _ = await ica.call(
            "GET", path, version=V4, params={"status": "FAILED", "pageSize": "1000"}
        )
        assert len(failed["items"]) == 100
        assert failed["remainingRecords"] == 0
        _, deep, _ = await ica.call(
            "GET",
            path,
            version=V3,
            params={"status": "LINKED", "pageOffset": "98000", "pageSize": "1000"},
        )
        assert deep["totalItemCount"] == 99_900
        assert deep["items"][0]["request"]["dataId"] == "fil.big98099"
        # a generous bound (speed targets live in benchmarks/): only materialising fails it
        assert time.monotonic() - started < 15.0
