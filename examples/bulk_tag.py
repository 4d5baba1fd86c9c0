"""Tag many ICA data items at once, and set when they will be archived.

Reads data ids (one per line) and applies user-tag additions/removals and an archive time with
data update batches. It streams the outcomes (``stream_update``) to show items as their batch
finishes, then prints a count per status. Folders are tagged recursively by ICA, but archive and
delete times cannot be set on folders, so folder ids only get the tags.

Runs against an in-process simulator (with made-up ids) unless ``--base-url`` is given on the
command line (the ICA_* variables alone never point it at a server)::

    python examples/bulk_tag.py --count 5000 --add-tag qc-passed --archive-in-days 90

and against a real ICA with ``--base-url`` plus credentials (flags or ICA_API_KEY /
ICA_ACCESS_TOKEN / ICA_PROJECT_ID)::

    python examples/bulk_tag.py --base-url https://ica.illumina.com/ica/rest \\
        --project <project-id> --ids ids.txt --add-tag qc-passed --remove-tag pending
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import BatchOrchestrator

SIM_PROJECT = "5a1e0000-0000-4000-8000-0000000000b2"


def read_ids(path: str | None, count: int) -> list[str]:
    """Ids from a file (blank lines and ``#`` comments skipped), or ``count`` made-up file ids."""
    if path is None:
        return [f"fil.{i:032x}" for i in range(count)]
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def update_groups(ids: list[str], args: argparse.Namespace) -> list[ita.DataUpdateGroup]:
    """One group for the files (tags + archive time) and one for the folders (tags only)."""
    tags = ita.TagUpdate(add_tags=args.add_tag or None, remove_tags=args.remove_tag or None)
    archive = None
    if args.archive_in_days is not None:
        now = datetime.now(UTC).replace(microsecond=0)
        archive = now + timedelta(days=args.archive_in_days)
    files = [i for i in ids if not i.startswith("fol.")]
    folders = [i for i in ids if i.startswith("fol.")]
    groups = []
    if files:
        groups.append(ita.DataUpdateGroup(files, user_tags=tags, will_be_archived_at=archive))
    if folders:
        groups.append(ita.DataUpdateGroup(folders, user_tags=tags))
    return groups


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


async def run(args: argparse.Namespace) -> int:
    """Tag the ids, printing progress per finished batch; 0 when every item was updated."""
    if not (args.add_tag or args.remove_tag or args.archive_in_days is not None):
        args.add_tag = ["example"]
    ids = read_ids(args.ids, args.count)
    groups = update_groups(ids, args)
    counts: Counter[str] = Counter()
    failures = []
    async with ica_client(args) as (ica, project):
        orchestrator = BatchOrchestrator(ica, project, batch_size=args.batch_size)
        async with orchestrator.stream_update(groups) as outcomes:
            async for outcome in outcomes:
                counts[outcome.status] += 1
                if not outcome.ok:
                    failures.append(outcome)
                done = sum(counts.values())
                if done % args.batch_size == 0 or done == len(ids):
                    print(f"  {done:>8,} / {len(ids):,} updated")
    for status, count in sorted(counts.items()):
        print(f"  {status:<18} {count:>8,}")
    for failure in failures[:10]:
        print(f"  failed: {failure.key} {failure.status} {failure.info or ''}")
    return 0 if not failures and sum(counts.values()) == len(ids) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", help="file of data ids (default: made-up file ids)")
    parser.add_argument("--count", type=int, default=2000, help="made-up ids to tag")
    parser.add_argument("--add-tag", action="append", help="user tag to add (repeatable)")
    parser.add_argument("--remove-tag", action="append", help="user tag to remove (repeatable)")
    parser.add_argument("--archive-in-days", type=int, help="archive the files in N days")
    parser.add_argument("--batch-size", type=int, default=1000, help="data ids per batch")
    parser.add_argument("--base-url", help="a real ICA (default: an in-process simulator)")
    parser.add_argument("--api-key", help="with --base-url (default: ICA_API_KEY)")
    parser.add_argument("--access-token", help="with --base-url (default: ICA_ACCESS_TOKEN)")
    parser.add_argument("--project", help="with --base-url (default: ICA_PROJECT_ID)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
