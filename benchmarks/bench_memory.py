"""Memory: peak RSS growth while streaming a million link outcomes.

``stream_link`` pulls its input lazily (a generator of data ids), keeps at most
``max_inflight_batches`` batches of 1,000 in memory, and yields each :class:`ItemOutcome` as
its batch finishes; the caller counts them and keeps nothing. The simulator runs in its own
process, so its state does not count. Measured: this process's peak resident set size
(``resource.getrusage``) minus its size just before the run.

Target: growth <= 64 MiB.

    python benchmarks/bench_memory.py --items 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import _common

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import BatchOrchestrator

PROJECT = "5a1e0000-0000-4000-8000-0000000000e3"
WARMUP_PROJECT = "5a1e0000-0000-4000-8000-0000000000e4"


def data_ids(count: int) -> Iterator[str]:
    """``count`` distinct file ids, produced lazily."""
    return (f"fil.{i:032x}" for i in range(count))


async def stream(
    url: str, project: str, items: int, max_batches: int
) -> tuple[Counter[str], float]:
    """Stream every outcome, counting statuses; the counts and the peak RSS seen (MiB)."""
    counts: Counter[str] = Counter()
    async with ita.IcaClient(url, api_key="bench-key") as ica:
        orchestrator = BatchOrchestrator(
            ica, project, max_inflight_batches=max_batches, poll_initial=0.05, poll_max=0.5
        )
        async with orchestrator.stream_link(data_ids(items)) as outcomes:
            async for outcome in outcomes:
                counts[outcome.status] += 1
    return counts, _common.max_rss_mib()


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; print the table; 0 when the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="outcomes to stream")
    parser.add_argument("--max-batches", type=int, default=8, help="batches in flight")
    args = parser.parse_args(argv)

    knobs = {
        "step_s": 0.0,
        "item_rate": 1_000_000,
        "track_link_submissions": False,
        "max_page_size": 1000,
    }
    with _common.SimulatorProcess(knobs) as sim:
        # Warm up imports, hooks and the connection pool on a small run first.
        asyncio.run(stream(sim.ica_url, WARMUP_PROJECT, 2000, args.max_batches))
        gc.collect()
        baseline = _common.current_rss_mib()
        started = time.monotonic()
        counts, peak = asyncio.run(stream(sim.ica_url, PROJECT, args.items, args.max_batches))
        elapsed = time.monotonic() - started
    growth = max(0.0, peak - baseline)
    total = sum(counts.values())
    rows = [
        ("outcomes streamed", total),
        ("RSS before (MiB)", baseline),
        ("peak RSS (MiB)", peak),
        ("peak growth (MiB)", growth),
        ("time (s)", elapsed),
        ("outcomes/s", total / elapsed),
    ]
    text = _common.table(["measure", "value"], rows)
    text += f"\n\nbatches of 1,000, {args.max_batches} in flight; statuses: {dict(counts)}"
    ok = _common.report(
        f"Memory: streaming {args.items:,} outcomes",
        text,
        [
            _common.target("peak RSS growth (MiB)", growth, 64.0, at_most=True),
            (f"outcomes lost: {args.items - total}", total == args.items),
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
