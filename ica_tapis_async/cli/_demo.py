"""``ica-tapis-async demo``: a realistic ingestion against an in-process simulator.

Four stages, each with a live bar: link N files, tag them (update batches, with an archive
time), launch analyses on them (keyed, exactly once), copy run folders with Tapis transfers.
The summary table shows every stage's outcome; any lost or failed item makes the exit code 1.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from rich import box
from rich.console import Console
from rich.table import Table

from .._client import IcaClient, TapisClient
from ..models import (
    AnalysisDataInput,
    AnalysisParameterInput,
    CreateAnalysisTag,
    CreateNextflowAnalysis,
    DataUpdateGroup,
    NextflowAnalysisInput,
    ReqTransferElement,
    TagUpdate,
)
from ..orchestrator import BatchOrchestrator, BatchReport, TransferReport, TransferRequest
from ._observe import current_telemetry
from ._output import counts_line, plural, print_failures, print_json, transfer_report_dict
from ._progress import ProgressDisplay
from ._state import RunState
from ._transfers import run_transfer_requests

__all__ = ("DEMO_KNOBS", "cmd_demo", "demo_data_ids")

PROJECT = "5a1e0000-0000-4000-8000-00000000d3e0"
PIPELINE = "9b1f0000-0000-4000-8000-00000000de00"

#: Simulator settings of the demo: lifelike latency, batch steps and a rate limit low enough to
#: see a few 429s absorbed, yet 20,000 files, 200 analyses and 50 transfers finish in about 20 s
#: on two cores.
DEMO_KNOBS: dict[str, Any] = {
    "latency_s": 0.005,
    "latency_jitter_s": 0.01,
    "step_s": 0.25,
    "item_rate": 2_500.0,
    "analysis_run_s": 1.0,
    "rate_limit": 25.0,
    "tapis_step_s": 0.2,
    "tapis_file_s": 0.05,
    "track_link_submissions": False,
}
#: Settings for ``--fast``: no latency and quick steps (tests).
FAST_KNOBS: dict[str, Any] = {"track_link_submissions": False}


def demo_data_ids(count: int) -> list[str]:
    """``count`` file ids shaped like ICA's (``fil.`` + 32 hex digits), always the same ones."""
    return [f"fil.{hashlib.md5(f'demo-{i}'.encode()).hexdigest()}" for i in range(count)]


def _groups(ids: list[str]) -> list[DataUpdateGroup]:
    archive = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)
    return [
        DataUpdateGroup(
            ids,
            user_tags=TagUpdate(add_tags=["demo", "ingest"]),
            technical_tags=TagUpdate(add_tags=["instrument:novaseq-x"]),
            will_be_archived_at=archive,
        )
    ]


def _analyses(ids: list[str], count: int) -> list[CreateNextflowAnalysis]:
    requests = []
    for i in range(count):
        reads = [ids[(2 * i) % len(ids)], ids[(2 * i + 1) % len(ids)]]
        requests.append(
            CreateNextflowAnalysis(
                f"demo-sample-{i:05d}",
                PIPELINE,
                NextflowAnalysisInput(
                    [AnalysisDataInput("reads", data_ids=list(dict.fromkeys(reads)))],
                    parameters=[AnalysisParameterInput(code="genome", value="GRCh38")],
                ),
                tags=CreateAnalysisTag(user_tags=["demo"]),
            )
        )
    return requests


def _transfers(count: int, prefix: str) -> list[TransferRequest]:
    return [
        TransferRequest(
            [
                ReqTransferElement(
                    f"tapis://demo-sequencer/runs/run{i:04d}/",
                    f"tapis://demo-archive/runs/run{i:04d}/",
                )
            ],
            tag=f"{prefix}-{i:06d}",
        )
        for i in range(count)
    ]


@attrs.define
class _Stage:
    name: str
    expected: int
    report: BatchReport | TransferReport | None = None

    @property
    def total(self) -> int:
        if isinstance(self.report, BatchReport):
            return self.report.total
        return len(self.report.outcomes) if self.report is not None else 0

    @property
    def failed(self) -> int:
        return len(self.report.failures) if self.report is not None else 0

    @property
    def lost(self) -> int:
        return self.expected - self.total


def _summary(stages: list[_Stage], elapsed: float, sim_stats: Any) -> Table:
    # No outer edges and no padding beside the rules: the row fits 80 columns with big numbers.
    table = Table(
        title=f"demo: {elapsed:,.1f} s in all",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("stage", "items", "ok", "failed", "lost", "req", "429", "time", "rate"):
        table.add_column(column, justify="left" if column == "stage" else "right", no_wrap=True)
    for stage in stages:
        report = stage.report
        if report is None:
            continue
        style = "red" if stage.failed or stage.lost else None
        table.add_row(
            stage.name,
            f"{stage.expected:,}",
            f"{stage.total - stage.failed:,}",
            f"{stage.failed:,}",
            f"{stage.lost:,}",
            f"{report.requests:,}",
            f"{report.throttled:,}",
            f"{report.elapsed_s:,.1f} s",
            f"{stage.total / report.elapsed_s:,.0f}/s" if report.elapsed_s else "-",
            style=style,
        )
    table.caption = (
        f"simulator: {sim_stats.requests:,} requests served, {sim_stats.throttled:,} answered 429"
    )
    return table


async def cmd_demo(args: argparse.Namespace, state: RunState) -> int:
    """Run the demo ingestion; 0 when every item of every stage succeeded."""
    from ..simulator import Simulator

    knobs = dict(FAST_KNOBS if args.fast else DEMO_KNOBS)
    if args.rate is not None:
        knobs["rate_limit"] = args.rate
    state.simulator = True
    state.note = "The demo keeps no state: run it again to start over."
    ids = demo_data_ids(args.items)
    groups = _groups(ids)
    analyses = _analyses(ids, args.analyses)
    stages = [
        _Stage("link", len(ids)),
        _Stage("tag", len(ids)),
        _Stage("analyses", len(analyses)),
        _Stage("transfers", args.transfers),
    ]
    out = Console(highlight=False, emoji=False)
    started = time.monotonic()
    async with Simulator(**knobs) as sim:
        if not args.json:
            limit = knobs.get("rate_limit")
            out.print(
                f"[bold]demo[/] against the in-process simulator at {sim.ica_url}", soft_wrap=True
            )
            out.print(f"(ICA rate limit {f'{limit:g} req/s' if limit else 'off'})")
        async with (
            IcaClient(sim.ica_url, api_key="demo-api-key", telemetry=current_telemetry()) as ica,
            TapisClient(
                sim.tapis_url, token="demo-tapis-token", telemetry=current_telemetry()
            ) as tapis,
        ):
            with ProgressDisplay(enabled=not (args.quiet or args.json)) as display:
                bars = [display.stage(s.name, s.expected, start=False) for s in stages]
                state.bars.extend(bars)
                for stage, bar in zip(stages[:3], bars[:3], strict=True):
                    if not stage.expected:  # --analyses 0: nothing to send
                        stage.report = BatchReport("-", "analysis")
                        continue
                    bar.start()
                    orchestrator = BatchOrchestrator(
                        ica, PROJECT, progress=bar, poll_initial=0.1, poll_max=1.0
                    )
                    if stage.name == "link":
                        stage.report = await orchestrator.link(ids)
                    elif stage.name == "tag":
                        stage.report = await orchestrator.update(groups)
                    else:
                        stage.report = await orchestrator.create_analyses(analyses)
                    bar.finish(
                        f"429 {stage.report.throttled:,} · {counts_line(stage.report.counts)}"
                    )
                bars[3].start()
                stages[3].report = await run_transfer_requests(
                    tapis,
                    _transfers(args.transfers, f"demo-{int(time.time())}"),
                    bars[3],
                    max_in_flight=16,
                    poll_initial=0.2,
                    poll_max=1.0,
                )
                bars[3].finish(
                    f"429 {stages[3].report.throttled:,} · {counts_line(stages[3].report.counts)}"
                )
        elapsed = time.monotonic() - started
        stats = sim.stats
    bad = [s for s in stages if s.failed or s.lost]
    if args.json:
        print_json(
            {
                "ok": not bad,
                "elapsed_s": round(elapsed, 3),
                "stages": {
                    s.name: (
                        {**s.report.to_dict(), "expected": s.expected, "lost": s.lost}
                        if isinstance(s.report, BatchReport)
                        else {
                            **transfer_report_dict(s.report),  # type: ignore[arg-type]
                            "expected": s.expected,
                            "lost": s.lost,
                        }
                    )
                    for s in stages
                },
                "simulator": {"requests": stats.requests, "throttled": stats.throttled},
            }
        )
    else:
        out.print(_summary(stages, elapsed, stats))
        for stage in bad:
            report = stage.report
            if stage.lost:
                out.print(f"[bold red]{stage.name}: {plural(stage.lost, 'item')} lost[/]")
            if isinstance(report, BatchReport) and report.failures:
                out.print(f"[red]{stage.name}: {plural(len(report.failures), 'item')} failed[/]")
                print_failures(out, report.failures)
        if not bad:
            out.print("[bold green]every item accounted for: nothing lost, nothing failed[/]")
    return 1 if bad else 0
