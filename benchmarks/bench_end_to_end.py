"""End to end: N link items through the orchestrator, against the theoretical minimum.

The simulator runs in its own process with a rate limit and a processing speed, and answers
with realistic V4 items (gzip on). The orchestrator links N data ids in batches of 1,000 with
``--max-batches`` in flight. Its wall time is compared with the least time the simulator
allows, the larger of:

- processing: a simulated batch of B items takes ``B / item_rate + 3 x step_s`` (its items start
  one after another at item_rate per second, then go through three status steps); with P
  batches in flight each of the P slots works through its share of the batches one after
  another: ``ceil(batches / P) x (B / item_rate + 3 x step_s)``;
- requests: each batch needs at least 1 create, 1 status read and one item page per 1,000
  items; beyond the initial burst they come at most R per second:
  ``(batches x (2 + pages) - burst) / R``.

Target: wall time <= 1.15x the theoretical minimum.

    python benchmarks/bench_end_to_end.py --items 100000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Iterator, Sequence

import _common

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import BatchOrchestrator, BatchReport

PROJECT = "5a1e0000-0000-4000-8000-0000000000e2"
BATCH = 1000
PAGE = 1000


def data_ids(count: int) -> Iterator[str]:
    """``count`` distinct file ids, produced lazily."""
    return (f"fil.{i:032x}" for i in range(count))


async def run(
    url: str, items: int, max_batches: int, rate: float, poll: tuple[float, float]
) -> BatchReport:
    """Link ``items`` ids; the report."""
    policy = ita.RateLimitPolicy(rate=rate)
    async with ita.IcaClient(url, api_key="bench-key", rate_limit=policy) as ica:
        orchestrator = BatchOrchestrator(
            ica,
            PROJECT,
            batch_size=BATCH,
            max_inflight_batches=max_batches,
            poll_initial=poll[0],
            poll_max=poll[1],
        )
        return await orchestrator.link(data_ids(items))


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; print the table and the ratio; 0 when the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000, help="data ids to link")
    parser.add_argument("--max-batches", type=int, default=8, help="batches in flight (P)")
    parser.add_argument(
        "--item-rate", type=float, default=1000.0, help="items/s one simulated batch processes"
    )
    parser.add_argument("--step", type=float, default=0.25, help="simulated status step (s)")
    parser.add_argument("--rate", type=float, default=50.0, help="simulated rate limit R")
    parser.add_argument("--poll", type=float, default=0.5, help="first poll interval (s)")
    parser.add_argument("--poll-max", type=float, default=10.0, help="longest poll interval (s)")
    args = parser.parse_args(argv)

    knobs = {
        "rate_limit": args.rate,
        "retry_after": "auto",
        "item_rate": args.item_rate,
        "step_s": args.step,
        "latency_s": 0.005,
        "track_link_submissions": False,
    }
    with _common.SimulatorProcess(knobs) as sim:
        started, cpu = time.monotonic(), time.process_time()
        report = asyncio.run(
            run(sim.ica_url, args.items, args.max_batches, args.rate, (args.poll, args.poll_max))
        )
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        stats = sim.stats()
    batches = math.ceil(args.items / BATCH)
    pages = math.ceil(BATCH / PAGE)
    per_batch = min(BATCH, args.items) / args.item_rate + 3 * args.step
    processing = math.ceil(batches / args.max_batches) * per_batch
    requests = max(0.0, (batches * (2 + pages) - args.rate) / args.rate)
    minimum = max(processing, requests)
    ratio = wall / minimum
    rows = [
        ("items linked", report.total),
        ("wall time (s)", wall),
        ("theoretical minimum (s)", minimum),
        ("  processing bound (s)", processing),
        ("  request bound (s)", requests),
        ("items/s", report.total / wall),
        ("client CPU (s)", cpu),
        ("requests (client)", report.requests),
        ("429 answers", stats["throttled"]),
        ("batches", report.batches),
    ]
    text = _common.table(["measure", "value"], rows)
    text += (
        f"\n\nsimulator: item_rate {args.item_rate:g}/s per batch, step {args.step:g} s, "
        f"R = {args.rate:g} req/s, gzip on; client: batches of {BATCH:,}, "
        f"{args.max_batches} in flight, rate limit R, polling {args.poll:g}-{args.poll_max:g} s"
    )
    lost = args.items - report.total
    ok = _common.report(
        f"End to end: {args.items:,} link items",
        text,
        [
            _common.target("wall / theoretical minimum", ratio, 1.15, at_most=True),
            (f"items lost: {lost}, failed: {len(report.failures)}", lost == 0 and report.ok),
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
