"""Launch one Nextflow analysis per sample-sheet row, exactly once, resumable after a crash.

The sample sheet is a CSV with ``userReference``, ``pipelineId`` and one ``input:<code>``
column per pipeline input (data ids separated by ``;``), plus ``param:<code>`` columns for
parameter values. The orchestrator sends the analyses in batches, each with a deterministic
Idempotency-Key, and records every batch in a SQLite journal. Run the same command again with the
same ``--journal`` after a crash or Ctrl-C: finished batches are skipped, a batch whose answer
was lost is replayed with its key (the server returns the stored answer instead of creating the
analyses again), and nothing is created twice.

Unless ``--base-url`` is given on the command line (the ICA_* variables alone never point it at
a server) it runs against an in-process simulator and proves the point: the first run is
interrupted after its first batch, the second run resumes from the journal, and the simulator
counts each analysis exactly once; its made-up sheet and journal live in a temporary directory
that is removed at the end::

    python examples/analyses_from_sample_sheet.py --samples 300

Against a real ICA (credentials from flags or ICA_API_KEY / ICA_ACCESS_TOKEN / ICA_PROJECT_ID)::

    python examples/analyses_from_sample_sheet.py --base-url https://ica.illumina.com/ica/rest \\
        --project <project-id> --sheet samples.csv --journal samples.journal.sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import anyio

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import BatchOrchestrator, BatchReport, Progress

SIM_PROJECT = "5a1e0000-0000-4000-8000-0000000000c3"
SIM_PIPELINE = "9b1f0000-0000-4000-8000-0000000000c3"


def write_sample_sheet(path: Path, samples: int) -> None:
    """A made-up sheet: paired FASTQ files per sample and a genome parameter."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["userReference", "pipelineId", "input:reads", "param:genome"])
        for i in range(samples):
            reads = f"fil.{2 * i:032x};fil.{2 * i + 1:032x}"
            writer.writerow([f"sample-{i:05d}", SIM_PIPELINE, reads, "GRCh38"])


def read_sample_sheet(path: Path) -> list[ita.CreateNextflowAnalysis]:
    """One request per row; ``input:<code>`` and ``param:<code>`` columns become inputs/params."""
    requests = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            inputs = [
                ita.AnalysisDataInput(column[6:], data_ids=value.split(";"))
                for column, value in row.items()
                if column.startswith("input:") and value
            ]
            params = [
                ita.AnalysisParameterInput(code=column[6:], value=value)
                for column, value in row.items()
                if column.startswith("param:") and value
            ]
            requests.append(
                ita.CreateNextflowAnalysis(
                    row["userReference"],
                    row["pipelineId"],
                    ita.NextflowAnalysisInput(inputs, parameters=params or None),
                )
            )
    return requests


async def launch(
    ica: ita.IcaClient,
    project: str,
    requests: list[ita.CreateNextflowAnalysis],
    journal: Path,
    *,
    stop_after_batches: int | None = None,
) -> BatchReport | None:
    """Create the analyses; with ``stop_after_batches``, simulate a crash after that many."""
    stop = anyio.Event()

    def progress(snapshot: Progress) -> None:
        if stop_after_batches is not None and snapshot.done >= stop_after_batches * 100:
            stop.set()

    orchestrator = BatchOrchestrator(
        ica, project, batch_size=100, journal=journal, progress=progress, poll_initial=0.1
    )
    report: BatchReport | None = None
    try:
        async with anyio.create_task_group() as tg:

            async def work() -> None:
                nonlocal report
                report = await orchestrator.create_analyses(requests)
                tg.cancel_scope.cancel()

            tg.start_soon(work)
            await stop.wait()
            tg.cancel_scope.cancel()  # as if the job were killed here
    finally:
        orchestrator.close()
    return report


def print_report(report: BatchReport) -> None:
    """Counts per status and the run's figures."""
    for status, count in sorted(report.counts.items()):
        print(f"  {status:<12} {count:>6,}")
    print(f"  run {report.run_id}: {report.batches} batches, {report.requests} requests")


async def run(args: argparse.Namespace) -> int:
    """Run (and, on the simulator, interrupt and resume); 0 when every analysis was created."""
    with tempfile.TemporaryDirectory(prefix="ita-example-") as workdir:
        return await run_in(args, Path(workdir))


async def run_in(args: argparse.Namespace, workdir: Path) -> int:
    """:func:`run` with its made-up files in ``workdir``."""
    sheet = Path(args.sheet) if args.sheet else workdir / "samples.csv"
    if not args.sheet:
        write_sample_sheet(sheet, args.samples)
    journal = Path(args.journal) if args.journal else workdir / "analyses.journal.sqlite"
    requests = read_sample_sheet(sheet)
    if args.base_url:
        api_key = args.api_key or os.environ.get("ICA_API_KEY")
        access_token = args.access_token or os.environ.get("ICA_ACCESS_TOKEN")
        project = args.project or os.environ.get("ICA_PROJECT_ID")
        if not (api_key or access_token) or not project:
            raise SystemExit("--base-url needs --api-key/--access-token and --project (or env)")
        print(f"server: {args.base_url} (a real server)", flush=True)
        print(f"{len(requests):,} analyses from {sheet}; journal {journal}")
        async with ita.IcaClient(args.base_url, api_key=api_key, access_token=access_token) as ica:
            report = await launch(ica, project, requests, journal)
        assert report is not None
        print_report(report)
        return 0 if report.ok and report.total == len(requests) else 1

    from ica_tapis_async.simulator import Simulator

    async with Simulator() as sim, ita.IcaClient(sim.ica_url, api_key="example-key") as ica:
        print(f"server: in-process simulator at {sim.ica_url} (no real data is touched)")
        print(f"{len(requests):,} analyses from {sheet}; journal {journal}")
        first = await launch(ica, SIM_PROJECT, requests, journal, stop_after_batches=1)
        print(f"first run stopped early ({'finished' if first else 'interrupted'}); resuming")
        report = await launch(ica, SIM_PROJECT, requests, journal)
        assert report is not None
        print_report(report)
        created = sim.stats.analyses_by_user_reference
        twice = [ref for ref, n in created.items() if n > 1]
        print(f"  simulator: {sim.stats.analyses_created:,} analyses created, {len(twice)} twice")
        ok = report.ok and report.total == len(requests) and not twice
        return 0 if ok and sim.stats.analyses_created == len(requests) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", help="CSV sample sheet (default: a made-up one)")
    parser.add_argument("--samples", type=int, default=300, help="rows of the made-up sheet")
    parser.add_argument("--journal", help="SQLite journal (default: in a temporary directory)")
    parser.add_argument("--base-url", help="a real ICA (default: an in-process simulator)")
    parser.add_argument("--api-key", help="with --base-url (default: ICA_API_KEY)")
    parser.add_argument("--access-token", help="with --base-url (default: ICA_ACCESS_TOKEN)")
    parser.add_argument("--project", help="with --base-url (default: ICA_PROJECT_ID)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
