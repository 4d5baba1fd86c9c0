"""An aiohttp web service that owns one IcaClient and runs ingestions in the background.

The service shares, for its whole lifetime, what must be shared:

* one ``IcaClient`` (one connection pool, one rate limiter: every request handler and every
  background run goes through the same budget), opened at startup and closed at cleanup;
* one journal (a ``SqliteJournal`` here; a ``postgresql://`` one across several replicas),
  opened once and handed to every ``BatchOrchestrator``, each run under its own run id.

Endpoints:

* ``GET /transfers/{id}?deadline=S``: one ICA data transfer, within a per-request deadline
  (504 when it passes); a caller that goes away cancels its request to ICA too (aiohttp's
  ``handler_cancellation``).
* ``GET /transfers``: the project's transfers (slow with many of them: cancellation matters).
* ``POST /ingestions`` ``{"data_ids": [...]}``: starts linking them in the background; 202 with
  the run id. ``GET /ingestions/{run_id}``: its progress, then its report.

Runs against an in-process simulator unless ``--base-url`` is given on the command line (the
ICA_* variables alone never point it at a server)::

    python examples/aiohttp_service.py --port 8099          # then: curl localhost:8099/transfers
    python examples/aiohttp_service.py --self-test --ids 500  # start, exercise, stop

and against a real ICA with ``--base-url`` plus ``--api-key`` (or ICA_API_KEY) and
``--project`` (or ICA_PROJECT_ID).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import ica_tapis_async as ita

SIM_PROJECT = "5a1e0000-0000-4000-8000-0000000000e7"
#: Per-request deadline when the caller gives none (seconds).
DEFAULT_DEADLINE_S = 10.0

ICA = web.AppKey("ica", ita.IcaClient)
PROJECT = web.AppKey("project", str)
JOURNAL = web.AppKey("journal", ita.SqliteJournal)
RUNS = web.AppKey("runs", dict)
STATS = web.AppKey("stats", dict)


def lifetime(args: argparse.Namespace) -> Callable[[web.Application], AsyncIterator[None]]:
    """The ``cleanup_ctx`` that opens the shared client and journal, and closes them."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if args.base_url:
                api_key = args.api_key or os.environ.get("ICA_API_KEY")
                project = args.project or os.environ.get("ICA_PROJECT_ID")
                if not api_key or not project:
                    raise SystemExit("--base-url needs --api-key and --project (or env)")
                print(f"server: {args.base_url} (a real server)", flush=True)
                url = args.base_url
            else:
                from ica_tapis_async.simulator import Simulator

                sim = await stack.enter_async_context(Simulator(latency_s=args.sim_latency_s))
                print(f"server: in-process simulator at {sim.ica_url} (no real data is touched)")
                url, api_key, project = sim.ica_url, "example-key", args.project or SIM_PROJECT
            app[ICA] = await stack.enter_async_context(ita.IcaClient(url, api_key=api_key))
            app[PROJECT] = project
            app[JOURNAL] = ita.SqliteJournal(args.journal)
            stack.push_async_callback(app[JOURNAL].aclose)
            app[RUNS] = {}
            app[STATS] = {"cancelled": 0, "deadline_exceeded": 0}
            yield
            # Shutting down: stop the background runs; each resumes later from the journal
            # under the same run id (nothing sent twice, nothing lost).
            tasks = [run["task"] for run in app[RUNS].values() if not run["task"].done()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return context


def _deadline(request: web.Request) -> float:
    try:
        value = float(request.query.get("deadline", DEFAULT_DEADLINE_S))
    except ValueError:
        raise web.HTTPBadRequest(text="deadline: not a number of seconds") from None
    if not 0 < value <= 300:
        raise web.HTTPBadRequest(text="deadline: must be in (0, 300] seconds")
    return value


async def get_transfer(request: web.Request) -> web.Response:
    """One transfer, within the request's deadline; cancelled with the request."""
    app = request.app
    try:
        async with asyncio.timeout(_deadline(request)):
            transfer = await app[ICA].data_transfers.get(
                app[PROJECT], request.match_info["transfer_id"]
            )
    except TimeoutError:
        app[STATS]["deadline_exceeded"] += 1
        return web.json_response({"error": "deadline exceeded"}, status=504)
    except ita.NotFoundError:
        return web.json_response({"error": "no such transfer"}, status=404)
    except asyncio.CancelledError:
        # The caller went away: aiohttp cancelled this handler, and with it the call to ICA.
        app[STATS]["cancelled"] += 1
        raise
    return web.json_response({"id": transfer.id, "status": transfer.status})


async def list_transfers(request: web.Request) -> web.Response:
    """Every transfer of the project (many pages: the deadline and cancellation apply)."""
    app = request.app
    try:
        async with asyncio.timeout(_deadline(request)):
            rows = [
                {"id": t.id, "status": t.status}
                async for t in app[ICA].data_transfers.list(app[PROJECT], page_size=10)
            ]
    except TimeoutError:
        app[STATS]["deadline_exceeded"] += 1
        return web.json_response({"error": "deadline exceeded"}, status=504)
    except asyncio.CancelledError:
        app[STATS]["cancelled"] += 1
        raise
    return web.json_response(rows)


async def _ingest(app: web.Application, run_id: str, data_ids: list[str]) -> None:
    run = app[RUNS][run_id]

    def progress(snapshot: ita.Progress) -> None:
        run["progress"] = {"submitted": snapshot.submitted, "finished": dict(snapshot.finished)}

    # The shared journal is passed as an object: the orchestrator uses it and leaves it open.
    orchestrator = ita.BatchOrchestrator(
        app[ICA],
        app[PROJECT],
        journal=app[JOURNAL],
        run_id=run_id,
        batch_size=100,
        progress=progress,
    )
    try:
        report = await orchestrator.link(data_ids)
    except Exception as exc:  # reported to whoever asks; the journal keeps the progress
        run["state"], run["error"] = "failed", f"{type(exc).__name__}: {exc}"
        return
    run["state"], run["report"] = "done", {"counts": report.counts, "total": report.total}


async def start_ingestion(request: web.Request) -> web.Response:
    """Start linking the posted data ids in the background; 202 and the run id."""
    try:
        body = await request.json()
        data_ids = body["data_ids"]
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text='expected JSON {"data_ids": ["fil.…", …]}') from None
    if not isinstance(data_ids, list) or not all(isinstance(i, str) for i in data_ids):
        raise web.HTTPBadRequest(text="data_ids: a list of strings")
    run_id = f"svc-{uuid.uuid4().hex[:12]}"
    app = request.app
    app[RUNS][run_id] = {"state": "running", "total": len(data_ids), "progress": None}
    # A task of the application, not of the request: the caller may leave, the run goes on.
    app[RUNS][run_id]["task"] = asyncio.get_running_loop().create_task(
        _ingest(app, run_id, data_ids)
    )
    return web.json_response({"run_id": run_id}, status=202)


async def ingestion_progress(request: web.Request) -> web.Response:
    """A background run's progress (while running) and report (once done)."""
    run = request.app[RUNS].get(request.match_info["run_id"])
    if run is None:
        return web.json_response({"error": "no such run"}, status=404)
    return web.json_response({k: v for k, v in run.items() if k != "task"})


async def stats(request: web.Request) -> web.Response:
    """Requests cancelled by their caller and deadlines exceeded, since startup."""
    return web.json_response(request.app[STATS])


def build_app(args: argparse.Namespace) -> web.Application:
    """The service: routes, and the shared client and journal for its lifetime."""
    app = web.Application()
    app.cleanup_ctx.append(lifetime(args))
    app.router.add_get("/transfers", list_transfers)
    app.router.add_get("/transfers/{transfer_id}", get_transfer)
    app.router.add_post("/ingestions", start_ingestion)
    app.router.add_get("/ingestions/{run_id}", ingestion_progress)
    app.router.add_get("/stats", stats)
    return app


async def self_test(base: str, count: int) -> int:
    """Exercise the running service like its callers would; 0 when all went as expected."""
    async with aiohttp.ClientSession(base) as http:
        async with http.get("/transfers", params={"deadline": "30"}) as resp:
            transfers = await resp.json()
        ids = [t["id"] for t in transfers[:8]]
        # Concurrent requests, one client behind them all.
        answers = await asyncio.gather(*(http.get(f"/transfers/{i}") for i in ids))
        print(f"{len(answers)} concurrent requests: {sorted({r.status for r in answers})}")
        for answer in answers:
            answer.release()
        async with http.get(f"/transfers/{ids[0]}", params={"deadline": "0.001"}) as resp:
            print(f"a 1 ms deadline: {resp.status}")
            late = resp.status
        # A caller that gives up: its request is cancelled in the service too.
        try:
            async with asyncio.timeout(0.05):
                await http.get("/transfers", params={"deadline": "30"})
        except TimeoutError:
            pass
        await asyncio.sleep(0.3)
        async with http.get("/stats") as resp:
            counters = await resp.json()
        print(f"cancelled by their caller: {counters['cancelled']}")
        data_ids = [f"fil.{i:032x}" for i in range(count)]
        async with http.post("/ingestions", json={"data_ids": data_ids}) as resp:
            run_id = (await resp.json())["run_id"]
        state: dict[str, Any] = {}
        for _ in range(600):
            async with http.get(f"/ingestions/{run_id}") as resp:
                state = await resp.json()
            if state["state"] != "running":
                break
            await asyncio.sleep(0.1)
        print(f"ingestion {run_id}: {state['state']} {state.get('report')}")
    linked = state.get("report", {}).get("counts", {}).get("LINKED", 0)
    ok = late == 504 and counters["cancelled"] >= 1 and linked == count
    return 0 if ok else 1


async def serve(args: argparse.Namespace) -> int:
    """Serve until interrupted (or, with --self-test, until the test is done)."""
    # handler_cancellation: a caller that disconnects cancels its handler (off by default).
    runner = web.AppRunner(build_app(args), handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0 if args.self_test else args.port)
        await site.start()
        port = runner.addresses[0][1]
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        if args.self_test:
            return await self_test(f"http://127.0.0.1:{port}", args.ids)
        await asyncio.Event().wait()
        return 0
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and serve; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099, help="port to serve on")
    parser.add_argument("--self-test", action="store_true", help="start, exercise, stop")
    parser.add_argument("--ids", type=int, default=500, help="--self-test: ids to ingest")
    parser.add_argument("--journal", help="SQLite journal (default: a temporary file)")
    parser.add_argument("--sim-latency-s", type=float, default=0.02, help="simulator latency")
    parser.add_argument("--base-url", help="a real ICA (default: an in-process simulator)")
    parser.add_argument("--api-key", help="with --base-url (default: ICA_API_KEY)")
    parser.add_argument("--project", help="with --base-url (default: ICA_PROJECT_ID)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        args.journal = args.journal or str(Path(scratch) / "service.sqlite")
        try:
            return asyncio.run(serve(args))
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
