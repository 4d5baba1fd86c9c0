"""Watch a project's ICA data transfers and abort the ones too slow to finish in time.

Lists the project's data transfers (cursor paging), watches the ONGOING ones for a while to
measure each one's throughput, and aborts every transfer that, at its current rate, would need
more than ``--max-remaining-s`` seconds to finish (or all ongoing ones with ``--abort-all``).
It then follows the aborted transfers until ICA reports them ABORTED (ABORTREQUESTED first).

Runs against an in-process simulator (which seeds a mix of finished, finishing and long-running
transfers) unless ``--base-url`` is given on the command line; the ICA_* variables alone never
point it at a server::

    python examples/watch_and_abort_transfers.py

Against a real ICA, pass ``--base-url`` (credentials from flags or ICA_API_KEY /
ICA_ACCESS_TOKEN / ICA_PROJECT_ID). Aborting is destructive: it asks before aborting anything,
or give ``--yes`` to skip the question (needed when stdin is not a terminal)::

    python examples/watch_and_abort_transfers.py --base-url https://ica.illumina.com/ica/rest \\
        --project <project-id> --watch-s 60 --max-remaining-s 3600
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio

import ica_tapis_async as ita
from ica_tapis_async.concurrency import gather_bounded

SIM_PROJECT = "5a1e0000-0000-4000-8000-0000000000d4"
FINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})


@asynccontextmanager
async def ica_client(args: argparse.Namespace) -> AsyncIterator[tuple[ita.IcaClient, str]]:
    """A client of the server named by ``--base-url``, else of an in-process simulator.

    Prints which one first: an example must never surprise anyone by touching real data.
    """
    if args.base_url:
        api_key = args.api_key or os.environ.get("ICA_API_KEY")
        access_token = args.access_token or os.environ.get("ICA_ACCESS_TOKEN")
        project = args.project or os.environ.get("ICA_PROJECT_ID")
        if not (api_key or access_token) or not project:
            raise SystemExit("--base-url needs --api-key/--access-token and --project (or env)")
        print(f"server: {args.base_url} (a real server)", flush=True)
        async with ita.IcaClient(args.base_url, api_key=api_key, access_token=access_token) as ica:
            yield ica, project
        return
    from ica_tapis_async.simulator import Simulator

    async with Simulator() as sim, ita.IcaClient(sim.ica_url, api_key="example-key") as ica:
        print(f"server: in-process simulator at {sim.ica_url} (no real data is touched)")
        yield ica, args.project or SIM_PROJECT


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


async def ongoing(ica: ita.IcaClient, project: str) -> dict[str, ita.DataTransfer]:
    """The project's ONGOING transfers by id."""
    return {t.id: t async for t in ica.data_transfers.list(project, status="ONGOING")}


async def wait_final(ica: ita.IcaClient, project: str, transfer_id: str, limit_s: float) -> str:
    """Poll one transfer until it is final (or ``limit_s`` passes); its last status."""
    status = "ABORTREQUESTED"
    with anyio.move_on_after(limit_s):
        delay = 0.2
        while status not in FINAL:
            status = (await ica.data_transfers.get(project, transfer_id)).status
            if status not in FINAL:
                await anyio.sleep(delay)
                delay = min(delay * 1.5, 10.0)
    return status


async def run(args: argparse.Namespace) -> int:
    """Watch, abort, follow; 0 when every abort was accepted and completed in time."""
    async with ica_client(args) as (ica, project):
        everything = [t async for t in ica.data_transfers.list(project)]
        print(
            f"{len(everything)} transfers: "
            + ", ".join(
                f"{s} {n}" for s, n in sorted(Counter(t.status for t in everything).items())
            )
        )
        before, started = await ongoing(ica, project), time.monotonic()
        print(f"watching {len(before)} ongoing transfers for {args.watch_s:g} s")
        await anyio.sleep(args.watch_s)
        after, elapsed = await ongoing(ica, project), time.monotonic() - started

        too_slow = []
        for transfer_id, now in after.items():
            then = before.get(transfer_id)
            if then is None:
                continue
            rate = (now.data_transferred - then.data_transferred) / elapsed
            size = now.data.details.file_size_in_bytes if now.data.details else None
            left = max(0, (size or 0) - now.data_transferred)
            remaining = left / rate if size and rate > 0 else float("inf")
            print(f"  {now.reference:<44} {rate / 1e6:>9.2f} MB/s  ~{remaining:>9,.0f} s left")
            if args.abort_all or remaining > args.max_remaining_s:
                too_slow.append(now)
        if not too_slow:
            print("nothing to abort")
            return 0

        question = f"abort {len(too_slow)} transfers of project {project} on {args.base_url}?"
        if not confirmed(args, question):
            print("nothing aborted")
            return 2
        print(f"aborting {len(too_slow)} transfers")

        async def abort(transfer: ita.DataTransfer) -> tuple[str, str]:
            try:
                await ica.data_transfers.abort(project, transfer.id, retry_safe=True)
            except ita.ConflictError:
                return transfer.reference, "already final"
            return transfer.reference, await wait_final(ica, project, transfer.id, args.limit_s)

        results = await gather_bounded(abort, too_slow, limit=8)
    for reference, status in results:
        print(f"  {reference:<44} {status}")
    return 0 if all(status in ("ABORTED", "already final") for _, status in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watch-s", type=float, default=2.0, help="seconds to measure rates")
    parser.add_argument(
        "--max-remaining-s", type=float, default=600.0, help="abort when the ETA exceeds this"
    )
    parser.add_argument("--abort-all", action="store_true", help="abort every ongoing transfer")
    parser.add_argument("--limit-s", type=float, default=120.0, help="wait this long for ABORTED")
    parser.add_argument("--base-url", help="a real ICA (default: an in-process simulator)")
    parser.add_argument("--api-key", help="with --base-url (default: ICA_API_KEY)")
    parser.add_argument("--access-token", help="with --base-url (default: ICA_ACCESS_TOKEN)")
    parser.add_argument("--project", help="with --base-url (default: ICA_PROJECT_ID)")
    parser.add_argument("--yes", action="store_true", help="abort without asking (real server)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
