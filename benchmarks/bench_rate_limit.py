"""Rate-limit utilisation: the orchestrator against a simulator limited to R requests/s.

The simulator (in its own process) answers 429 + Retry-After beyond R requests per second per
credential. The orchestrator links small batches with many in flight and eager polling, so it
always wants more than R requests/s. Measured over a steady window (after a warm-up): the rate
of requests the server accepted, as a share of R, and the share of requests answered 429 over
the whole run. Two clients:

- told: ``RateLimitPolicy(rate=R)``: the client knows the limit,
- adaptive: no rate given: the client discovers the limit from the 429s (CUBIC, like botocore's
  adaptive mode) and settles under it.

Targets: achieved / R >= 0.95 (steady window) with 429s <= 1% of all requests of the run
(the adaptive client pays for discovering the limit with a few 429s at the start; the table
also shows the share within the window).

    python benchmarks/bench_rate_limit.py --rate 50 --seconds 30 --warmup 8
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import _common
import anyio
import anyio.to_thread

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import BatchOrchestrator

PROJECT = "5a1e0000-0000-4000-8000-0000000000e1"


def data_ids() -> Iterator[str]:
    """An endless supply of file ids."""
    for i in itertools.count():
        yield f"fil.{i:032x}"


async def drive(
    url: str, policy: ita.RateLimitPolicy, seconds: float, warmup: float, sim: Any
) -> dict[str, float]:
    """Run the orchestrator for ``seconds``; stats over the window after ``warmup``."""
    async with ita.IcaClient(url, api_key="bench-key", rate_limit=policy) as ica:
        orchestrator = BatchOrchestrator(
            ica,
            PROJECT,
            batch_size=100,
            max_inflight_batches=32,
            poll_initial=0.05,
            poll_max=0.2,
        )
        start = await anyio.to_thread.run_sync(sim.stats)
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(orchestrator.link, data_ids())
            await anyio.sleep(warmup)
            first, t0 = await anyio.to_thread.run_sync(sim.stats), time.monotonic()
            await anyio.sleep(seconds - warmup)
            last, t1 = await anyio.to_thread.run_sync(sim.stats), time.monotonic()
            tg.cancel_scope.cancel()  # the demand never ends: stop it here
        elapsed = time.monotonic() - started
        client_requests, client_throttled = ica.metrics.requests, ica.metrics.throttled
    window_ok = (last["requests"] - last["throttled"]) - (first["requests"] - first["throttled"])
    total = last["requests"] - start["requests"]
    throttled = last["throttled"] - start["throttled"]
    window_total = last["requests"] - first["requests"]
    window_throttled = last["throttled"] - first["throttled"]
    return {
        "achieved": window_ok / (t1 - t0),
        "window_429": window_throttled / window_total if window_total else 0.0,
        "requests": total,
        "throttled": throttled,
        "share_429": throttled / total if total else 0.0,
        "elapsed": elapsed,
        "client_requests": client_requests,
        "client_throttled": client_throttled,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run both clients; print the table and the ratios; 0 when the targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="the server's limit R (req/s)")
    parser.add_argument("--seconds", type=float, default=30.0, help="run time per client")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before the window")
    args = parser.parse_args(argv)

    knobs = {
        "rate_limit": args.rate,
        "retry_after": "auto",
        "step_s": 0.05,
        "item_rate": 20_000,
        "latency_s": 0.01,
        "track_link_submissions": False,
    }
    clients = {
        "told the limit (rate=R)": ita.RateLimitPolicy(rate=args.rate),
        "adaptive (limit unknown)": ita.RateLimitPolicy(rate=None),
    }
    rows, targets = [], []
    for name, policy in clients.items():
        with _common.SimulatorProcess(knobs) as sim:
            result = asyncio.run(drive(sim.ica_url, policy, args.seconds, args.warmup, sim))
        utilisation = result["achieved"] / args.rate
        rows.append(
            (
                name,
                result["achieved"],
                f"{utilisation:.3f}",
                int(result["requests"]),
                int(result["throttled"]),
                f"{100 * result['share_429']:.2f}%",
                f"{100 * result['window_429']:.2f}%",
            )
        )
        targets.append(_common.target(f"{name}: achieved / R", utilisation, 0.95))
        targets.append(
            _common.target(f"{name}: 429 share (%)", 100 * result["share_429"], 1.0, at_most=True)
        )
    text = _common.table(
        [
            "client",
            "accepted req/s",
            "achieved / R",
            "requests",
            "429s",
            "429 share (run)",
            "429 share (window)",
        ],
        rows,
    )
    text += (
        f"\n\nR = {args.rate:g} req/s (simulator token bucket, Retry-After to the next token); "
        f"{args.seconds:g} s per client, window after a {args.warmup:g} s warm-up; "
        "link batches of 100, 32 in flight, polling every 0.05-0.2 s"
    )
    ok = _common.report("Rate-limit utilisation", text, targets)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
