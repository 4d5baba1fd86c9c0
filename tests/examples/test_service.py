"""The aiohttp service example: one client for its lifetime, deadlines, cancellation,
background runs on one shared journal, and callers' mistakes answered with a 4xx."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from .test_examples import EXAMPLES


def _module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "example_service", EXAMPLES / "aiohttp_service.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(tmp_path: Path) -> argparse.Namespace:
    return argparse.Namespace(
        base_url=None,
        api_key=None,
        project=None,
        journal=str(tmp_path / "service.sqlite"),
        sim_latency_s=0.0,
    )


async def test_one_client_one_journal_many_runs(tmp_path: Path) -> None:
    """Two ingestions at once share the client and the journal; each is its own run; the
    client and journal are closed when the service stops."""
    service = _module()
    app = service.build_app(_args(tmp_path))
    async with TestClient(TestServer(app)) as http:
        first = [f"fil.{i:032x}" for i in range(250)]
        second = [f"fil.{i:032x}" for i in range(1000, 1120)]
        runs = []
        for ids in (first, second):
            resp = await http.post("/ingestions", json={"data_ids": ids})
            assert resp.status == 202
            runs.append((await resp.json())["run_id"])
        states: list[dict[str, Any]] = []
        for run_id in runs:
            for _ in range(300):
                states_now = await (await http.get(f"/ingestions/{run_id}")).json()
                if states_now["state"] != "running":
                    break
                await asyncio.sleep(0.05)
            states.append(states_now)
        assert [s["report"]["counts"] for s in states] == [{"LINKED": 250}, {"LINKED": 120}]
        journal = app[service.JOURNAL]
        recorded = {(await journal.get_run(r)).kind for r in runs}
        assert recorded == {"link"}


async def test_callers_mistakes_are_4xx(tmp_path: Path) -> None:
    """Bad bodies, bad deadlines and unknown ids: 400 and 404, never a 500."""
    service = _module()
    async with TestClient(TestServer(service.build_app(_args(tmp_path)))) as http:
        for body in ("not json", '{"ids": []}', '{"data_ids": [1, 2]}', "[]"):
            resp = await http.post("/ingestions", data=body)
            assert resp.status == 400, body
        for deadline in ("soon", "0", "-1", "nan", "1e9"):
            resp = await http.get("/transfers/x", params={"deadline": deadline})
            assert resp.status == 400, deadline
        assert (await http.get("/ingestions/nope")).status == 404
        assert (await http.get("/transfers/no-such-transfer")).status == 404


async def test_shutdown_stops_background_runs_resumably(tmp_path: Path) -> None:
    """A service stopped mid-run cancels it; the journal shows it unfinished, not lost."""
    service = _module()
    args = _args(tmp_path)
    args.sim_latency_s = 0.05
    app = service.build_app(args)
    async with TestClient(TestServer(app)) as http:
        ids = [f"fil.{i:032x}" for i in range(3000)]
        run_id = (await (await http.post("/ingestions", json={"data_ids": ids})).json())["run_id"]
        await asyncio.sleep(0.3)
        task = app[service.RUNS][run_id]["task"]
    assert task.cancelled() or task.done()
    import ica_tapis_async as ita

    journal = ita.SqliteJournal(args.journal)
    try:
        run = await journal.get_run(run_id)
        assert run is not None
        assert run.finished_at is None
        assert all(c.owner is None for c in await journal.chunks(run_id))
    finally:
        await journal.aclose()
