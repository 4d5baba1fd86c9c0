"""Tapis Files transfers: life cycle, summary, details, cancel, list, envelopes, auth."""

from __future__ import annotations

from typing import Any

import aiohttp

from ica_tapis_async.simulator import Simulator

TOKEN = {"X-Tapis-Token": "tapis-token-1"}
ENVELOPE = {"status", "message", "result", "version", "commit", "build", "metadata"}


class Tapis:
    """Raw Tapis calls against one simulator."""

    def __init__(
        self, sim: Simulator, http: aiohttp.ClientSession, headers: dict[str, str] = TOKEN
    ) -> None:
        self.sim, self.http, self.headers = sim, http, headers

    async def call(self, method: str, path: str = "", **kwargs: Any) -> tuple[int, Any]:
        url = f"{self.sim.tapis_url}/v3/files/transfers{path}"
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.http.request(method, url, headers=headers, **kwargs) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()

    async def create(self, *elements: dict[str, Any], tag: str | None = None) -> dict[str, Any]:
        status, body = await self.call("POST", json={"tag": tag, "elements": list(elements)})
        assert status == 200, body
        return dict(body["result"])


def _element(source: str, optional: bool = False) -> dict[str, Any]:
    return {"sourceURI": source, "destinationURI": "tapis://dest/out", "optional": optional}


async def test_create_and_life_cycle() -> None:
    """Create answers 200 ACCEPTED without parents; the task goes IN_PROGRESS then COMPLETED."""
    async with (
        Simulator(tapis_step_s=1.0, tapis_file_s=1.0) as sim,
        aiohttp.ClientSession() as http,
    ):
        tapis = Tapis(sim, http)
        status, body = await tapis.call(
            "POST",
            json={
                "tag": "t1",
                "elements": [
                    _element("tapis://src/data?files=3"),
                    _element("https://host/file.bam"),
                ],
            },
        )
        assert status == 200
        assert set(body) == ENVELOPE
        assert body["status"] == "success"
        assert body["message"].startswith("FAPI_TXFR_CREATED")
        assert body["metadata"] == {}
        task = body["result"]
        assert task["status"] == "ACCEPTED"
        assert task["parentTasks"] is None
        assert task["tag"] == "t1"
        assert task["totalTransfers"] == 0
        assert task["created"].endswith("Z")
        path = f"/{task['uuid']}"
        sim.advance_clock(1.5)
        _, details = await tapis.call("GET", path + "/details")
        parents = details["result"]["parentTasks"]
        assert details["result"]["status"] == "IN_PROGRESS"
        assert [p["status"] for p in parents] == ["IN_PROGRESS", "IN_PROGRESS"]
        sim.advance_clock(1)
        _, details = await tapis.call("GET", path + "/details")
        parents = details["result"]["parentTasks"]
        assert [p["status"] for p in parents] == ["STAGED", "STAGED"]
        assert [len(p["children"]) for p in parents] == [3, 1]
        assert {c["status"] for p in parents for c in p["children"]} == {"ACCEPTED"}
        sim.advance_clock(2)
        _, details = await tapis.call("GET", path + "/details")
        parents = details["result"]["parentTasks"]
        assert [p["status"] for p in parents] == ["IN_PROGRESS", "COMPLETED"]
        assert details["result"]["completeTransfers"] == 2
        assert details["result"]["totalTransfers"] == 4
        sim.advance_clock(5)
        _, got = await tapis.call("GET", path, params={"includeSummary": "true"})
        result = got["result"]
        assert result["status"] == "COMPLETED"
        assert result["endTime"]
        assert result["totalTransfers"] == result["completeTransfers"] == 4
        assert result["estimatedTotalBytes"] == result["totalBytesTransferred"] > 0
        assert got["message"] == f"TAPIS_FOUND TransferTask found: {task['uuid']}"
        _, plain = await tapis.call("GET", path)
        assert plain["result"]["totalTransfers"] == 0
        assert plain["result"]["estimatedTotalBytes"] == 0
        assert plain["result"]["parentTasks"] is None


async def test_failures_and_optional_elements() -> None:
    """A missing required source fails the task; an optional one is FAILED_OPT and does not."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        tapis = Tapis(sim, http)
        failed = await tapis.create(
            _element("tapis://src/missing-dir"), _element("tapis://src/ok?files=2")
        )
        optional = await tapis.create(
            _element("tapis://src/missing-dir", optional=True), _element("tapis://src/ok?files=2")
        )
        empty = await tapis.create(_element("tapis://src/empty?files=0"))
        too_many = await tapis.create(_element("tapis://src/huge?files=20000", optional=True))
        sim.advance_clock(10)
        _, f = await tapis.call("GET", f"/{failed['uuid']}/details")
        assert f["result"]["status"] == "FAILED"
        assert "not found" in f["result"]["errorMessage"]
        assert [p["status"] for p in f["result"]["parentTasks"]] == ["FAILED", "COMPLETED"]
        _, o = await tapis.call("GET", f"/{optional['uuid']}/details")
        assert o["result"]["status"] == "COMPLETED"
        assert [p["status"] for p in o["result"]["parentTasks"]] == ["FAILED_OPT", "COMPLETED"]
        _, e = await tapis.call("GET", f"/{empty['uuid']}/details")
        assert e["result"]["status"] == "COMPLETED"
        assert e["result"]["parentTasks"][0]["children"] == []
        _, t = await tapis.call("GET", f"/{too_many['uuid']}/details")
        assert t["result"]["status"] == "FAILED"
        assert "TOO_MANY_FILES" in t["result"]["errorMessage"]
        assert t["result"]["parentTasks"][0]["status"] == "FAILED_OPT"


async def test_cancel_running_and_finished() -> None:
    """DELETE cancels task, parents and children; a finished task is overwritten too."""
    async with Simulator(tapis_file_s=10.0) as sim, aiohttp.ClientSession() as http:
        tapis = Tapis(sim, http)
        running = await tapis.create(_element("tapis://src/a?files=2"))
        sim.advance_clock(1)
        status, body = await tapis.call("DELETE", f"/{running['uuid']}")
        assert status == 200
        assert body["result"] is None
        assert body["message"].startswith("FAPI_TXFR_CANCELLED")
        _, d = await tapis.call("GET", f"/{running['uuid']}/details")
        statuses = {d["result"]["status"]} | {p["status"] for p in d["result"]["parentTasks"]}
        statuses |= {c["status"] for p in d["result"]["parentTasks"] for c in p["children"]}
        assert statuses == {"CANCELLED"}
        assert d["result"]["endTime"] is None
        sim.configure(tapis_file_s=0.001)
        done = await tapis.create(_element("tapis://src/b"))
        sim.advance_clock(5)
        _, before = await tapis.call("GET", f"/{done['uuid']}")
        assert before["result"]["status"] == "COMPLETED"
        status, _ = await tapis.call("DELETE", f"/{done['uuid']}")
        assert status == 200
        _, after = await tapis.call("GET", f"/{done['uuid']}")
        assert after["result"]["status"] == "CANCELLED"
        assert after["result"]["endTime"] == before["result"]["endTime"]
        assert sim.stats.tapis_cancels == 2


async def test_list_recent_newest_first_and_limits() -> None:
    """list shows only the caller's tasks, newest first; limit <= 1000 and offset >= 0."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        tapis = Tapis(sim, http)
        created = []
        for i in range(3):
            created.append((await tapis.create(_element(f"tapis://src/{i}")))["uuid"])
            sim.advance_clock(1)
        await Tapis(sim, http, {"X-Tapis-Token": "someone-else"}).create(_element("tapis://src/x"))
        status, body = await tapis.call("GET")
        assert status == 200
        assert body["message"] == "TAPIS_FOUND Files found: 3 transfer tasks"
        assert [t["uuid"] for t in body["result"]] == created[::-1]
        assert all(t["parentTasks"] is None and t["totalTransfers"] == 0 for t in body["result"])
        _, page = await tapis.call("GET", params={"limit": "1", "offset": "1"})
        assert [t["uuid"] for t in page["result"]] == [created[1]]
        for params in ({"limit": "1001"}, {"offset": "-1"}, {"limit": "ten"}):
            status, error = await tapis.call("GET", params=params)
            assert status == 400
            assert error["status"] == "error"
            assert error["result"] is None
            assert error["metadata"] == {}


async def test_error_envelopes() -> None:
    """404/403 carry the reason phrase and null metadata; 400 says error; 401 is bare text."""
    async with (
        Simulator(tapis_tokens={"tapis-token-1", "other"}) as sim,
        aiohttp.ClientSession() as http,
    ):
        tapis = Tapis(sim, http)
        task = await tapis.create(_element("tapis://src/a"))
        status, body = await tapis.call("GET", "/0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b")
        assert status == 404
        assert set(body) == ENVELOPE
        assert body["status"] == "Not Found"
        assert body["metadata"] is None
        assert body["result"] is None
        assert body["message"].startswith("FILES_TXFR_SVC_NOT_FOUND")
        status, body = await Tapis(sim, http, {"X-Tapis-Token": "other"}).call(
            "GET", f"/{task['uuid']}"
        )
        assert status == 403
        assert body["status"] == "Forbidden"
        assert body["metadata"] is None
        status, body = await Tapis(sim, http, {"X-Tapis-Token": "other"}).call(
            "DELETE", f"/{task['uuid']}"
        )
        assert status == 403
        status, body = await tapis.call(
            "GET", f"/{task['uuid']}", params={"impersonationId": "bob"}
        )
        assert status == 403
        status, body = await tapis.call("GET", "/not-a-uuid")
        assert status == 400
        assert body["status"] == "error"
        assert body["metadata"] == {}
        payloads: list[dict[str, Any]] = [
            {"elements": []},
            {"tag": "x"},
            {"elements": [{"sourceURI": "tapis://a"}]},
        ]
        for payload in payloads:
            status, body = await tapis.call("POST", json=payload)
            assert status == 400
            assert body["status"] == "error"
        status, body = await tapis.call(
            "POST", data=b"{oops", headers={**TOKEN, "Content-Type": "application/json"}
        )
        assert status == 400
        status, body = await tapis.call(
            "POST", json={"elements": [{"sourceURI": "tapis://a", "destinationURI": "https://x/y"}]}
        )
        assert status == 500
        assert body["status"] == "Internal Server Error"
        status, text = await Tapis(sim, http, {}).call("GET")
        assert status == 401
        assert isinstance(text, str)
        assert text.startswith("TAPIS_SECURITY_MISSING_JWT_INFO")
        status, text = await Tapis(sim, http, {"X-Tapis-Token": "nope"}).call("GET")
        assert status == 401
        assert "TAPIS_SECURITY_JWT_INVALID" in text
        assert sim.stats.tapis_tasks == 1


async def test_extra_fields_knob() -> None:
    """extra_fields adds the server's non-spec fields (integer id, optional, transferType)."""
    async with Simulator(extra_fields=True) as sim, aiohttp.ClientSession() as http:
        tapis = Tapis(sim, http)
        task = await tapis.create(_element("tapis://src/a"))
        assert isinstance(task["id"], int)
        sim.advance_clock(5)
        _, d = await tapis.call("GET", f"/{task['uuid']}/details")
        parent = d["result"]["parentTasks"][0]
        assert parent["optional"] is False
        assert parent["transferType"] == "TRANSFER"
