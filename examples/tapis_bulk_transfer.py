"""Copy many folders between Tapis systems: one transfer task per folder, all followed to the end.

Reads ``source destination`` pairs (one per line, e.g. ``tapis://sequencer/run7/
tapis://archive/run7/``) and hands them to the TransferOrchestrator: it creates the tasks
concurrently (each tagged, so a create whose answer was lost is found again instead of being
made twice), polls each task with a backoff until it is COMPLETED, FAILED or CANCELLED, and
reports every task. ``--cancel-after`` shows cancelling what is still running.

Runs against an in-process simulator (with made-up run folders) unless ``--base-url`` is given
on the command line (the TAPIS_* variables alone never point it at a server)::

    python examples/tapis_bulk_transfer.py --tasks 40

and against a real Tapis tenant with ``--base-url`` and a token (flag or TAPIS_TOKEN);
``--cancel-after`` there asks first, or takes ``--yes``::

    python examples/tapis_bulk_transfer.py --base-url https://tacc.tapis.io --pairs pairs.txt
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import TransferOrchestrator, TransferReport, TransferRequest


def read_pairs(path: str | None, tasks: int) -> list[TransferRequest]:
    """One request per ``source destination`` line, or ``tasks`` made-up run folders."""
    if path is None:
        pairs = [
            (f"tapis://sequencer/runs/run{i:04d}/", f"tapis://archive/runs/run{i:04d}/")
            for i in range(tasks)
        ]
    else:
        with open(path, encoding="utf-8") as f:
            pairs = [
                (parts[0], parts[1])
                for parts in (line.split() for line in f)
                if len(parts) == 2 and not parts[0].startswith("#")
            ]
    return [TransferRequest([ita.ReqTransferElement(src, dst)]) for src, dst in pairs]


@asynccontextmanager
async def tapis_client(args: argparse.Namespace) -> AsyncIterator[ita.TapisClient]:
    """A client of the tenant named by ``--base-url``, else of an in-process simulator.

    Prints which one first: an example must never surprise anyone by touching real data.
    """
    if args.base_url:
        token = args.token or os.environ.get("TAPIS_TOKEN")
        if not token:
            raise SystemExit("--base-url needs --token (or TAPIS_TOKEN)")
        print(f"server: {args.base_url} (a real server)", flush=True)
        async with ita.TapisClient(args.base_url, token=token) as tapis:
            yield tapis
        return
    from ica_tapis_async.simulator import Simulator

    async with (
        Simulator(tapis_step_s=args.sim_step_s, tapis_file_s=0.02) as sim,
        ita.TapisClient(sim.tapis_url, token="example-token") as tapis,
    ):
        print(f"server: in-process simulator at {sim.tapis_url} (no real data is touched)")
        yield tapis


def confirmed(args: argparse.Namespace, question: str) -> bool:
    """Whether a destructive step may go ahead: always on the simulator; on a real server with
    ``--yes``, or when the person at the terminal answers yes."""
    if not args.base_url or args.yes:
        return True
    if not sys.stdin.isatty():
        print(f"not confirmed: {question} (add --yes to confirm)", file=sys.stderr)
        return False
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def run(args: argparse.Namespace) -> int:
    """Transfer everything; 0 when every task completed (or was cancelled on request)."""
    requests = read_pairs(args.pairs, args.tasks)
    if args.cancel_after is not None:
        question = f"cancel the tasks still running after {args.cancel_after:g} s?"
        if not confirmed(args, question):
            return 2
    async with tapis_client(args) as tapis:
        print(f"{len(requests)} transfer tasks")
        orchestrator = TransferOrchestrator(tapis, max_in_flight=16, poll_initial=0.2, poll_max=5)
        report: TransferReport | None = None
        async with anyio.create_task_group() as tg:

            async def transfer() -> None:
                nonlocal report
                report = await orchestrator.run(requests)
                tg.cancel_scope.cancel()

            tg.start_soon(transfer)
            if args.cancel_after is not None:
                await anyio.sleep(args.cancel_after)
                cancelled = await orchestrator.cancel()
                print(f"cancelled {cancelled} running tasks")
    assert report is not None
    for status, count in sorted(report.counts.items()):
        print(f"  {status:<12} {count:>6}")
    files = sum(o.complete_transfers or 0 for o in report.outcomes)
    print(f"  {files} files copied, {report.requests} requests, {report.elapsed_s:.1f} s")
    for failure in report.failures[:10]:
        print(f"  {failure.status}: {failure.tag} {failure.uuid} {failure.error_message or ''}")
    accepted = {"COMPLETED", "CANCELLED"} if args.cancel_after is not None else {"COMPLETED"}
    return 0 if all(o.status in accepted for o in report.outcomes) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", help="file of 'source destination' lines (default: made up)")
    parser.add_argument("--tasks", type=int, default=40, help="made-up transfer tasks")
    parser.add_argument("--cancel-after", type=float, help="cancel running tasks after S seconds")
    parser.add_argument("--base-url", help="a real Tapis tenant (default: a simulator)")
    parser.add_argument("--token", help="with --base-url (default: TAPIS_TOKEN)")
    parser.add_argument("--yes", action="store_true", help="cancel without asking (real server)")
    parser.add_argument(
        "--sim-step-s", type=float, default=0.05, help="the simulator's task step time"
    )
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
