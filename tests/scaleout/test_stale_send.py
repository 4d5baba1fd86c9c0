"""A worker frozen while it waits out a 429 loses its leases, and never sends when it wakes.

Worker A records its chunks ``sending``, is answered 429 with a long ``Retry-After`` and is
frozen (SIGSTOP) while it waits; worker B takes the chunks over and finishes the run; A wakes
up after the ``Retry-After``. Update batches carry no Idempotency-Key, so a stale create would
be a second batch for the chunk: A must find out its lease is gone before each attempt.
"""

from __future__ import annotations

import json
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from anyio.abc import Process

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator
from tests.scaleout._worker import PROJECT

ROOT = Path(__file__).resolve().parents[2]
RETRY_AFTER = 6


async def _start(cfg: dict[str, Any]) -> Process:
    return await anyio.open_process(
        [sys.executable, "-m", "tests.scaleout._worker", json.dumps(cfg)], cwd=ROOT, stderr=None
    )


async def _report(process: Process) -> dict[str, Any]:
    assert process.stdout is not None
    out = b""
    with anyio.fail_after(60):
        async for chunk in process.stdout:
            out += chunk
        code = await process.wait()
    assert code == 0, out.decode(errors="replace")[-2000:]
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return report


async def _sending_and_throttled(dsn: str, run_id: str, sim: Simulator) -> bool:
    async with ita.PostgresJournal(dsn) as journal:
        if await journal.get_run(run_id) is None:
            return False
        chunks = await journal.chunks(run_id)
    return any(c.state == "sending" for c in chunks) and sim.stats.throttled >= 1


async def test_a_frozen_worker_whose_leases_were_taken_over_never_sends(pg_dsn: str) -> None:
    async with Simulator(
        seed=16, step_s=0.02, rate_limit=0.1, rate_limit_burst=1, retry_after=RETRY_AFTER
    ) as sim:
        async with aiohttp.ClientSession() as http:  # spend credential k's only token
            url = f"{sim.ica_url}/api/projects/{PROJECT}/dataUpdateBatch/nope"
            async with http.get(url, headers={"X-API-Key": "k"}) as answer:
                await answer.read()
        cfg: dict[str, Any] = {
            "op": "update", "count": 2, "ica_url": sim.ica_url, "journal": pg_dsn,
            "run_id": f"stale-{uuid.uuid4().hex[:8]}", "ttl": 1.0, "batch_size": 1,
        }  # fmt: skip
        slow = await _start(cfg)
        with anyio.fail_after(30):
            # The state lives in another process's journal writes: nothing to wait on but time.
            while not await _sending_and_throttled(pg_dsn, cfg["run_id"], sim):  # noqa: ASYNC110
                await anyio.sleep(0.02)
        await anyio.sleep(0.3)  # into its Retry-After wait
        slow.send_signal(signal.SIGSTOP)
        try:
            sim.configure(rate_limit=None)
            fast_report = await _report(await _start(cfg))
            batches_after_fast = sim.stats.batches.get("update")
            await anyio.sleep(RETRY_AFTER + 1)  # the slow worker's wait ends while frozen
        finally:
            slow.send_signal(signal.SIGCONT)
        slow_report = await _report(slow)
        await anyio.sleep(0.5)  # anything late would have arrived by now
        batches = sim.stats.batches.get("update")
    assert fast_report["counts"] == {"UPDATED": 2}
    assert slow_report["counts"] == {"UPDATED": 2}  # the run's report, as the other finished it
    assert batches_after_fast == 2
    assert batches == 2  # one per chunk: the woken worker sent nothing
