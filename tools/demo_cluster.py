"""``make demo-cluster``: four workers share one rate budget and one journal, live.

Starts a throwaway redis-server and PostgreSQL on 127.0.0.1 (when installed), the simulator
limited to R requests/s per credential, and four ``ica-tapis-async link`` processes with the
same input, ``--run-id``, ``--journal postgresql://…`` and ``--shared-limit redis://…``. While
they run it shows the run as ``ica-tapis-async status`` sees it (chunks per state, workers and
their leases) and the simulator's request rate; at the end, each worker's report and the proof
that nothing was linked twice.

Without PostgreSQL the workers share a SQLite journal (processes on one machine); without
Redis each worker gets a quarter of R in its own process. Everything is stopped afterwards.

    python tools/demo_cluster.py [--items 4000] [--rate 40] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console, Group  # noqa: E402 - after the path set-up
from rich.live import Live  # noqa: E402
from rich.table import Table  # noqa: E402

from ica_tapis_async.cli._config import ConfigError  # noqa: E402
from ica_tapis_async.cli._status import run_status, status_table  # noqa: E402
from ica_tapis_async.orchestrator._journal_open import open_journal  # noqa: E402
from tests.servers import PostgresServer, RedisServer, ServerUnavailable  # noqa: E402

PROJECT = "5a1e0000-0000-4000-8000-00000000c1a5"


class _Simulator:
    """The simulator in a child process; its URLs from its first lines of output."""

    def __init__(self, rate: float) -> None:
        argv = [sys.executable, "-m", "ica_tapis_async.simulator", "--port", "0"]
        argv += ["--rate-limit", str(rate), "--retry-after", "auto", "--step-s", "0.2"]
        argv += ["--item-rate", "400", "--latency-s", "0.02"]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.ica_url = self.base_url = ""
        assert self.process.stdout is not None
        for _ in range(3):
            key, _, value = self.process.stdout.readline().strip().partition(": ")
            if key == "ICA":
                self.ica_url = value
            elif key == "Tapis":
                self.base_url = value.rstrip("/")
        if not self.ica_url:
            self.process.kill()
            raise RuntimeError("the simulator did not start")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/_simulator/stats", timeout=10) as answer:
            data: dict[str, Any] = json.loads(answer.read())
        return data

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def _start(stack: ExitStack, console: Console) -> tuple[str | None, str | None]:
    redis_url = journal = None
    try:
        redis_url = stack.enter_context(RedisServer()).url
        console.print(f"redis-server on {redis_url}: one shared rate budget")
    except ServerUnavailable as exc:
        console.print(f"[yellow]no shared limit[/] ({exc}); each worker takes its own share")
    try:
        postgres = stack.enter_context(PostgresServer())
        journal = postgres.dsn()
        console.print(f"PostgreSQL on {journal}: one journal")
    except ServerUnavailable as exc:
        console.print(f"[yellow]no PostgreSQL[/] ({exc}); the workers share a SQLite journal")
    return redis_url, journal


def _sim_table(stats: dict[str, Any], since: dict[str, Any], seconds: float) -> Table:
    table = Table(title="simulator", title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    requests = stats["requests"] - since["requests"]
    table.add_row("requests", f"{requests:,} ({requests / max(seconds, 0.1):,.1f}/s)")
    table.add_row("429 answers", f"{stats['throttled'] - since['throttled']:,}")
    table.add_row("linking batches", f"{stats['batches'].get('linking', 0):,}")
    return table


async def _watch(journal_spec: str, run_id: str, sim: _Simulator, procs: list[Any]) -> None:
    journal, _ = open_journal(journal_spec)
    since, started = sim.stats(), time.monotonic()
    try:
        with Live(refresh_per_second=4) as live:
            while True:
                parts: list[Any] = []
                try:
                    parts.append(status_table(await run_status(journal, run_id)))
                except ConfigError:  # no worker has opened the run yet
                    parts.append("waiting for the run to start")
                parts.append(_sim_table(sim.stats(), since, time.monotonic() - started))
                live.update(Group(*parts))
                if all(p.poll() is not None for p in procs):
                    return
                await asyncio.sleep(0.5)
    finally:
        await journal.aclose()


def main() -> int:
    """Run the demo; 0 when every worker reported the whole run and nothing went twice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000, help="files to link")
    parser.add_argument("--rate", type=float, default=40.0, help="the server's limit R (req/s)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    args = parser.parse_args()
    console = Console()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ita-cluster-") as tmp:
        redis_url, journal = _start(stack, console)
        journal = journal or str(Path(tmp) / "journal.sqlite")
        sim = _Simulator(args.rate)
        stack.callback(sim.stop)
        ids = Path(tmp) / "ids.txt"
        ids.write_text("".join(f"fil.{i:032x}\n" for i in range(args.items)), encoding="utf-8")
        run_id = f"cluster-{int(time.time())}"
        command = [sys.executable, "-m", "ica_tapis_async", "link", str(ids), "--json", "-q"]
        command += ["--journal", journal, "--run-id", run_id, "--batch-size", "100"]
        command += ["--base-url", sim.ica_url, "--api-key", "demo-key", "--project", PROJECT]
        if redis_url:
            command += ["--shared-limit", redis_url, "--limit-name", f"demo:{run_id}"]
        console.print(f"{args.workers} workers, run {run_id}, R = {args.rate:g} requests/s\n")
        outputs = [(Path(tmp) / f"worker-{n}.json").open("w") for n in range(args.workers)]
        procs = [subprocess.Popen(command, stdout=out, cwd=ROOT) for out in outputs]
        try:
            asyncio.run(_watch(journal, run_id, sim, procs))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            for out in outputs:
                out.close()
        return _final(console, sim, [Path(o.name) for o in outputs], procs, args.items)


def _final(
    console: Console, sim: _Simulator, outputs: list[Path], procs: list[Any], items: int
) -> int:
    table = Table(title="workers", title_justify="left")
    for column in ("worker", "exit", "items in report", "failed"):
        table.add_column(column)
    good = True
    for n, (path, proc) in enumerate(zip(outputs, procs, strict=True)):
        text = path.read_text(encoding="utf-8")
        report = json.loads(text) if text.strip() else {}
        total = report.get("total", 0)
        failed = len(report.get("failures", []))
        good &= proc.returncode == 0 and total == items and failed == 0
        table.add_row(str(n), str(proc.returncode), f"{total:,}", f"{failed:,}")
    console.print()
    console.print(table)
    stats = sim.stats()
    twice = sum(1 for count in stats["link_submissions"].values() if count > 1)
    console.print(
        f"linked {len(stats['link_submissions']):,} files in {stats['batches'].get('linking', 0)}"
        f" batches; submitted twice: {twice}; 429 answers: {stats['throttled']:,} of "
        f"{stats['requests']:,} requests"
    )
    return 0 if good and twice == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "100")
    sys.exit(main())
