"""Scaling out: 1, 4, 8 and 16 worker processes sharing one Redis budget and one PostgreSQL journal.

The simulator (its own process) allows R requests/s per credential and answers 429 beyond.
Every worker is its own process with its own client, the same credential, a
``RedisRateLimiter`` with one name, and a ``BatchOrchestrator`` on one PostgreSQL journal with
one run id and the same input: they share the run. For linking and for analyses, and with the
limit told to the shared limiter (``rate=R``) or discovered by it (``rate=None``):

- aggregate accepted request rate / R over a steady window (after a warm-up),
- the share of answers that were 429 over the whole run, and the first wave of 429s (those
  within a second of the first one): with a discovered rate, the one-off cost of finding the
  limit, paid once per shared budget (Redis keeps what was found for the next run),
- wall time of a finite run against its theoretical minimum (its requests / R),
- the journal's work: PostgreSQL transactions (commits and rollbacks of the run's own
  database, ``pg_stat_database``) per chunk done and per second; the steady run's ids that
  reached the simulator in more than one linking batch (sent twice),
- lease take-over: a worker is SIGKILLed while it holds chunks; how long until another
  worker holds them, against lease time + one heartbeat.

Targets: with 16 workers, rate >= 0.95 R and <= 1% 429s, told or discovered; 0 ids sent
twice at any number of workers; transactions per chunk at 16 workers <= 1.5x those at 1;
take-over within lease time + one heartbeat (a third of the lease).

``--workers``, ``--ops``, ``--modes`` and ``--no-finite`` select a shorter run, e.g. to check
the direction on a busy machine: ``--workers 1,16 --ops link --modes told --seconds 12``.

The steady run's clock starts at the first request the simulator receives, not at the spawn of
the worker processes (four Python workers take 4-5 s to import and connect on a loaded 2-core
machine). It lasts 30 s of requests: a 12 s run measured mostly start-up, where discovering the
limit (a wave of 3-6 429s) weighed about 1% on its own. The 429 share still counts every answer
from the first request to the end of the run, discovery included.

Needs redis-server and PostgreSQL (``apt-get install redis-server postgresql``); they are
started on random ports and stopped afterwards.

    python benchmarks/bench_workers.py --rate 50 --seconds 30 --warmup 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import _common

import ica_tapis_async as ita
from tests.servers import PostgresServer, RedisServer, ServerUnavailable

PROJECT = "5a1e0000-0000-4000-8000-0000000000e2"
PIPELINE = "pipe-1"


def _items(op: str, count: int) -> list[Any]:
    if op == "link":
        return [f"fil.{i:032x}" for i in range(count)]
    return [
        ita.CreateNextflowAnalysis(
            f"bench-{i}",
            PIPELINE,
            ita.NextflowAnalysisInput([ita.AnalysisDataInput("reads", data_ids=["fil.1"])]),
        )
        for i in range(count)
    ]


async def _work(cfg: dict[str, Any]) -> dict[str, Any]:
    limiter = ita.RedisRateLimiter(
        cfg["redis"], cfg["name"], rate=cfg["rate"], burst=cfg["burst"], lease_ttl=30
    )
    policy = ita.RetryPolicy(max_attempts=50, total_timeout=600, max_retry_after=5)
    async with (
        ita.IcaClient(cfg["url"], api_key="bench-key", limiter=limiter, retry=policy) as ica,
        ita.BatchOrchestrator(
            ica,
            PROJECT,
            journal=cfg["journal"],
            run_id=cfg["run_id"],
            batch_size=cfg["batch_size"],
            max_inflight_batches=16,
            poll_initial=0.05,
            poll_max=0.2,
            lease_ttl=cfg["lease_ttl"],
        ) as orchestrator,
    ):
        items = _items(cfg["op"], cfg["items"])
        started = time.monotonic()
        if cfg["op"] == "link":
            report = await orchestrator.link(items)
        else:
            report = await orchestrator.create_analyses(items)
        return {"total": report.total, "ok": report.ok, "elapsed": time.monotonic() - started}


def worker_main(raw: str) -> int:
    """One worker process: run the shared job, print a JSON line."""
    cfg = json.loads(raw)
    print(json.dumps(asyncio.run(_work(cfg))), flush=True)
    return 0


def _spawn(cfg: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(_common.ROOT)}
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", json.dumps(cfg)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=_common.ROOT,
    )


def steady(base: dict[str, Any], workers: int, seconds: float, warmup: float) -> dict[str, float]:
    """Workers on an input larger than they can finish; stats over the window, then stop.

    Besides the rate over the window and the 429 share over the whole run, counts the first
    wave of 429s (those within a second of the first one): for a discovered rate, the
    one-off cost of finding the limit, which the 429 share includes.
    """
    knobs = {**base["knobs"], "track_link_submissions": base["op"] == "link"}
    with _common.SimulatorProcess(knobs) as sim, _Database(base["journal"]) as db:
        cfg = {**base, "url": sim.ica_url, "name": f"bench:{uuid.uuid4().hex[:8]}"}
        cfg["run_id"] = f"steady-{uuid.uuid4().hex[:8]}"
        cfg["journal"] = db.dsn
        start = sim.stats()
        xacts = db.transactions()
        procs = [_spawn(cfg) for _ in range(workers)]
        try:
            began = _first_request(sim, start["requests"])
            first: dict[str, Any] | None = None
            t0 = began
            first_429: float | None = None
            wave = 0
            while (now := time.monotonic()) < began + seconds:
                stats = sim.stats()
                throttled = stats["throttled"] - start["throttled"]
                if throttled and first_429 is None:
                    first_429 = now
                if first_429 is not None and now <= first_429 + 1.0:
                    wave = throttled
                if first is None and now >= began + warmup:
                    first, t0 = stats, now
                time.sleep(0.1)
            last, t1 = sim.stats(), time.monotonic()
        finally:
            for p in procs:
                p.kill()
                p.wait()
        # The killed workers' server sessions end and report their counts (at most a
        # second late); then the run's database is read.
        time.sleep(1.5)
        spent = db.transactions() - xacts
        chunks = db.chunks_done(cfg["run_id"])
        twice = sum(1 for n in sim.stats().get("link_submissions", {}).values() if n > 1)
    assert first is not None
    accepted = (last["requests"] - last["throttled"]) - (first["requests"] - first["throttled"])
    total = last["requests"] - start["requests"]
    return {
        "achieved": accepted / (t1 - t0),
        "share_429": (last["throttled"] - start["throttled"]) / total if total else 0.0,
        "wave": float(wave),
        "requests": float(total),
        "tx_chunk": spent / chunks if chunks else float("inf"),
        "tx_s": spent / (t1 - began),
        "twice": float(twice),
    }


class _Database:
    """A fresh database of the cluster for one run, so that its transaction count is the
    run's alone; dropped afterwards."""

    def __init__(self, admin_dsn: str) -> None:
        self._admin = admin_dsn
        self._name = f"bench_{uuid.uuid4().hex[:10]}"
        self.dsn = admin_dsn.rsplit("/", 1)[0] + "/" + self._name

    def __enter__(self) -> _Database:
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self._name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')

    def transactions(self) -> int:
        """Commits and rollbacks of the database so far (counted by the server)."""
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                (self._name,),
            ).fetchone()
        return int(row[0]) if row else 0

    def chunks_done(self, run_id: str) -> int:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ita_chunks WHERE run_id = %s AND state = 'done' "
                "AND digest <> 'end-of-input'",
                (run_id,),
            ).fetchone()
        return int(row[0]) if row else 0


def _first_request(sim: _common.SimulatorProcess, before: int) -> float:
    """The monotonic time at which the simulator has seen a request beyond ``before``."""
    deadline = time.monotonic() + 120
    while sim.stats()["requests"] <= before:
        if time.monotonic() > deadline:
            raise RuntimeError("no worker sent a request within 120 s")
        time.sleep(0.02)
    return time.monotonic()


def finite(base: dict[str, Any], workers: int) -> dict[str, float]:
    """Workers run one job to the end: wall time against requests / R."""
    with _common.SimulatorProcess(base["knobs"]) as sim, _Database(base["journal"]) as db:
        cfg = {**base, "url": sim.ica_url, "name": f"bench:{uuid.uuid4().hex[:8]}"}
        cfg["run_id"] = f"finite-{uuid.uuid4().hex[:8]}"
        cfg["journal"] = db.dsn
        start = sim.stats()
        started = time.monotonic()
        procs = [_spawn(cfg) for _ in range(workers)]
        results = [
            json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs
        ]
        wall = time.monotonic() - started
        last = sim.stats()
    if not all(r["ok"] and r["total"] == base["items"] for r in results):
        raise RuntimeError(f"a worker did not report the whole run: {results}")
    accepted = (last["requests"] - last["throttled"]) - (start["requests"] - start["throttled"])
    return {"wall": wall, "minimum": accepted / base["rate_r"]}


def takeover(base: dict[str, Any], journal_dsn: str) -> float:
    """SIGKILL a worker holding chunks; seconds until another worker holds all of them."""
    knobs = {**base["knobs"], "step_s": 0.5, "item_rate": 500}  # slow batches: leases stay held
    with _common.SimulatorProcess(knobs) as sim:
        cfg = {**base, "url": sim.ica_url, "name": f"bench:{uuid.uuid4().hex[:8]}"}
        cfg["run_id"] = f"takeover-{uuid.uuid4().hex[:8]}"
        victim = _spawn(cfg)
        survivor: subprocess.Popen[str] | None = None
        try:
            held = asyncio.run(_wait_for_leases(journal_dsn, cfg["run_id"]))
            survivor = _spawn(cfg)
            time.sleep(1.0)  # the survivor is up and polling the journal
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed = time.time()
            taken = asyncio.run(_wait_taken(journal_dsn, cfg["run_id"], held))
            return taken - killed
        finally:
            for p in (victim, survivor):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()


async def _wait_for_leases(dsn: str, run_id: str) -> dict[int, int]:
    async with ita.PostgresJournal(dsn) as journal:
        while True:
            chunks = await journal.chunks(run_id)
            held = {c.index: c.lease_token for c in chunks if c.owner and not c.final}
            if held:
                return held
            await asyncio.sleep(0.05)


async def _wait_taken(dsn: str, run_id: str, held: dict[int, int]) -> float:
    async with ita.PostgresJournal(dsn) as journal:
        while True:
            chunks = {c.index: c for c in await journal.chunks(run_id)}
            if all(chunks[i].final or chunks[i].lease_token > token for i, token in held.items()):
                return time.time()
            await asyncio.sleep(0.02)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every configuration; print the table; 0 when the targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="the server's limit R (req/s)")
    parser.add_argument("--seconds", type=float, default=30.0, help="steady run per config")
    parser.add_argument("--warmup", type=float, default=6.0, help="seconds before the window")
    parser.add_argument("--items", type=int, default=2000, help="items of the finite runs")
    parser.add_argument("--lease-ttl", type=float, default=3.0, help="lease time (s)")
    parser.add_argument("--workers", default="1,4,8,16", help="worker counts, comma-separated")
    parser.add_argument("--ops", default="link,analyses", help="jobs: link, analyses")
    parser.add_argument("--modes", default="told,discovered", help="limits: told, discovered")
    parser.add_argument("--no-finite", action="store_true", help="skip the finite runs")
    parser.add_argument("--no-takeover", action="store_true", help="skip the take-over")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    try:
        with RedisServer() as redis, PostgresServer() as postgres:
            return _bench(args, redis.url, postgres.dsn())
    except ServerUnavailable as exc:
        print(f"## Scaling out\n\nskipped: {exc}\n")
        return 1


HEADER = ["job", "limit", "workers", "rate / R", "429 share", "first 429 wave"]
HEADER += ["tx / chunk", "tx / s", "ids sent twice", "finite wall", "minimum"]


def _bench(args: argparse.Namespace, redis_url: str, dsn: str) -> int:
    knobs = {
        "rate_limit": args.rate,
        "retry_after": "auto",
        "step_s": 0.05,
        "item_rate": 20_000,
        "latency_s": 0.01,
        "analysis_run_s": 0.2,
        "track_link_submissions": False,
    }
    counts = [int(n) for n in args.workers.split(",")]
    most = max(counts)
    rows, targets = [], []
    for op, batch_size in (("link", 50), ("analyses", 10)):
        if op not in args.ops.split(","):
            continue
        for mode in args.modes.split(","):
            per_chunk: dict[int, float] = {}
            for workers in counts:
                base = {
                    "op": op,
                    "knobs": knobs,
                    "redis": redis_url,
                    "journal": dsn,
                    "rate": args.rate if mode == "told" else None,
                    "rate_r": args.rate,
                    "burst": 5,
                    "batch_size": batch_size,
                    "items": 200_000 if op == "link" else 20_000,
                    "lease_ttl": args.lease_ttl,
                }
                s = steady(base, workers, args.seconds, args.warmup)
                wall = minimum = "-"
                if not args.no_finite:
                    f = finite(
                        {**base, "items": args.items if op == "link" else args.items // 5},
                        workers,
                    )
                    wall, minimum = f"{f['wall']:.1f} s", f"{f['minimum']:.1f} s"
                ratio = s["achieved"] / args.rate
                per_chunk[workers] = s["tx_chunk"]
                rows.append(
                    (op, mode, workers, f"{ratio:.3f}", f"{100 * s['share_429']:.2f}%",
                     f"{s['wave']:.0f} of {s['requests']:.0f}", f"{s['tx_chunk']:.1f}",
                     f"{s['tx_s']:.0f}", f"{s['twice']:.0f}", wall, minimum)
                )  # fmt: skip
                targets.append(
                    _common.target(f"{op}, {mode}, {workers} workers: ids sent twice",
                                   s["twice"], 0, at_most=True)
                )  # fmt: skip
                if workers == most:
                    targets.append(
                        _common.target(f"{op}, {mode}, {workers} workers: rate / R", ratio, 0.95)
                    )
                    targets.append(
                        _common.target(
                            f"{op}, {mode}, {workers} workers: 429 share (%)",
                            100 * s["share_429"],
                            1.0,
                            at_most=True,
                        )
                    )
            if 1 in per_chunk and most > 1:
                targets.append(
                    _common.target(
                        f"{op}, {mode}: transactions per chunk, {most} workers / 1 worker",
                        per_chunk[most] / per_chunk[1],
                        1.5,
                        at_most=True,
                    )
                )
    taken = math.nan
    limit = args.lease_ttl + args.lease_ttl / 3
    if not args.no_takeover:
        base = {
            "op": "link", "knobs": knobs, "redis": redis_url, "journal": dsn, "rate": args.rate,
            "rate_r": args.rate, "burst": 5, "batch_size": 50, "items": 5000,
            "lease_ttl": args.lease_ttl,
        }  # fmt: skip
        taken = takeover(base, dsn)
        targets.append(_common.target("take-over after SIGKILL (s)", taken, limit, at_most=True))
    text = _common.table(HEADER, rows)
    text += (
        f"\n\nR = {args.rate:g} req/s per credential (simulator token bucket, Retry-After to the "
        f"next token); steady window {args.seconds - args.warmup:g} s after a {args.warmup:g} s "
        f"warm-up from the first request; tx = PostgreSQL transactions of the run's database "
        f"per chunk done and per second of the steady run; finite runs of {args.items:,} links / "
        f"{args.items // 5:,} analyses; lease {args.lease_ttl:g} s, take-over measured "
        f"{taken:.2f} s (limit {limit:.2f} s)"
    )
    ok = _common.report("Scaling out: workers sharing one budget and one journal", text, targets)
    return 0 if ok else 1


if __name__ == "__main__":
    # A TERM (a timeout, a CI cancel) unwinds like Ctrl-C: the servers started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
