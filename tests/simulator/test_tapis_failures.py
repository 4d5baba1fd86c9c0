"""Tapis children that fail and retry: retries, FAILED children, parents and top tasks."""

from __future__ import annotations

from typing import Any

import aiohttp

from ica_tapis_async.simulator import Simulator

from .test_tapis import Tapis, _element

STEP: dict[str, Any] = {"tapis_step_s": 1.0, "tapis_file_s": 1.0}


def _children(details: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for p in details["parentTasks"] for c in p["children"]]


async def _details(tapis: Tapis, task_uuid: str) -> dict[str, Any]:
    status, body = await tapis.call("GET", f"/{task_uuid}/details")
    assert status == 200, body
    return dict(body["result"])


async def test_a_required_child_that_fails_every_try_fails_parent_and_task() -> None:
    """Every try of every child fails: child FAILED after 3 tries with the file and reason,
    parent FAILED, top task FAILED with the same message and an endTime."""
    async with (
        Simulator(tapis_child_fail_rate=1.0, **STEP) as sim,
        aiohttp.ClientSession() as http,
    ):
        tapis = Tapis(sim, http)
        task = await tapis.create(_element("tapis://src/d?files=2"))
        sim.advance_clock(3.5)  # listed, children staged, first child in its first try
        running = await _details(tapis, task["uuid"])
        first = _children(running)[0]
        assert first["status"] == "IN_PROGRESS"
        assert first["retries"] == 1
        sim.advance_clock(1.0)
        assert _children(await _details(tapis, task["uuid"]))[0]["retries"] == 2
        sim.advance_clock(100)
        done = await _details(tapis, task["uuid"])
        first = _children(done)[0]
        assert first["status"] == "FAILED"
        assert first["retries"] == 3
        assert first["errorMessage"].startswith(
            "FILES_TXFR_CHILD_ERROR Transfer of tapis://src/d/file_00000.dat failed after 3 tries: "
        )
        (parent,) = done["parentTasks"]
        assert parent["status"] == "FAILED"
        assert parent["errorMessage"] == first["errorMessage"]
        assert done["status"] == "FAILED"
        assert done["errorMessage"] == first["errorMessage"]
        assert done["endTime"] is not None
        status, got = await tapis.call("GET", f"/{task['uuid']}")
        assert status == 200
        assert got["result"]["status"] == "FAILED"
        assert sim.stats.tapis_child_failures == 2


async def test_an_optional_elements_failed_child_does_not_fail_the_task() -> None:
    """The documented intent: the optional parent is FAILED_OPT, the task COMPLETES."""
    async with (
        Simulator(tapis_child_fail_rate=1.0, **STEP) as sim,
        aiohttp.ClientSession() as http,
    ):
        tapis = Tapis(sim, http)
        task = await tapis.create(_element("tapis://src/o?files=1", optional=True))
        sim.advance_clock(100)
        done = await _details(tapis, task["uuid"])
        assert done["parentTasks"][0]["status"] == "FAILED_OPT"
        assert _children(done)[0]["status"] == "FAILED"
        assert done["status"] == "COMPLETED"
        assert done["errorMessage"] is None


async def test_children_that_fail_once_complete_on_retry() -> None:
    """tapis_retry_rate=1: each child needs 2 or 3 tries and then completes; bytes start over
    with each try; the task COMPLETES and the summary counts every child."""
    async with (
        Simulator(tapis_retry_rate=1.0, seed=4, **STEP) as sim,
        aiohttp.ClientSession() as http,
    ):
        tapis = Tapis(sim, http)
        task = await tapis.create(_element("tapis://src/r?files=4"))
        sim.advance_clock(3.5)
        first = _children(await _details(tapis, task["uuid"]))[0]
        assert first["status"] == "IN_PROGRESS"
        assert 0 < first["bytesTransferred"] < first["totalBytes"]
        sim.advance_clock(1.0)  # the second try starts over
        second = _children(await _details(tapis, task["uuid"]))[0]
        assert second["retries"] == 2
        assert second["status"] == "IN_PROGRESS"
        # half-way through the second try as through the first (real time moves a little)
        drift = abs(second["bytesTransferred"] - first["bytesTransferred"])
        assert drift < 0.1 * first["totalBytes"]
        sim.advance_clock(100)
        done = await _details(tapis, task["uuid"])
        children = _children(done)
        assert {c["status"] for c in children} == {"COMPLETED"}
        assert all(c["retries"] in (2, 3) for c in children)
        assert all(c["errorMessage"] is None for c in children)
        assert done["status"] == "COMPLETED"
        assert (done["totalTransfers"], done["completeTransfers"]) == (4, 4)
        assert sim.stats.tapis_child_retries == 4


async def test_a_failed_child_fails_the_task_only_from_its_failure_on() -> None:
    """Before the failing child gives up the task is IN_PROGRESS, without an errorMessage."""
    async with (
        Simulator(tapis_child_fail_rate=1.0, tapis_max_tries=2, **STEP) as sim,
        aiohttp.ClientSession() as http,
    ):
        tapis = Tapis(sim, http)
        task = await tapis.create(_element("tapis://src/t?files=1"))
        sim.advance_clock(4.0)
        _, got = await tapis.call("GET", f"/{task['uuid']}")
        assert got["result"]["status"] == "IN_PROGRESS"
        assert got["result"]["errorMessage"] is None
        sim.advance_clock(1.5)
        _, got = await tapis.call("GET", f"/{task['uuid']}")
        assert got["result"]["status"] == "FAILED"
        assert "after 2 tries" in got["result"]["errorMessage"]
