"""Link every file of a folder listing into an ICA project.

A sequencing run lands in one project; its files must be linked into an analysis project. The
listing is a JSON file shaped like ICA's project data list (``{"items": [{"data": {"id": ...,
"details": {"path": ..., "dataType": "FILE"}}}]}``), e.g. saved from
``GET /api/projects/{id}/data`` or ``icav2 projectdata list -o json``. Folders are skipped (link
a folder itself to link all it holds), ``--pattern`` keeps only matching paths, and the batch
orchestrator links the rest in batches, waits for every item and reports per status.

Runs against an in-process simulator (with a made-up listing of one run folder) unless
``--base-url`` is given on the command line (the ICA_* variables alone never point it at a
server)::

    python examples/link_folder_listing.py --files 2000

and against a real ICA with ``--base-url`` and credentials (flags or ICA_API_KEY /
ICA_ACCESS_TOKEN / ICA_PROJECT_ID)::

    python examples/link_folder_listing.py --base-url https://ica.illumina.com/ica/rest \\
        --project <project-id> --listing run-folder.json --pattern '*.fastq.gz'
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import BatchOrchestrator

SIM_PROJECT = "5a1e0000-0000-4000-8000-0000000000a1"


def synthetic_listing(files: int) -> dict[str, Any]:
    """A run folder of ``files`` FASTQ files plus a few folders, shaped like ICA's listing."""
    items: list[dict[str, Any]] = [
        {
            "data": {
                "id": f"fol.{i:032x}",
                "details": {"path": f"/run1/L00{i}/", "dataType": "FOLDER"},
            }
        }
        for i in range(1, 5)
    ]
    for i in range(files):
        lane, read = i % 4 + 1, i % 2 + 1
        path = f"/run1/L00{lane}/S{i // 2:05d}_R{read}.fastq.gz"
        items.append(
            {"data": {"id": f"fil.{i:032x}", "details": {"path": path, "dataType": "FILE"}}}
        )
    return {"items": items}


def file_ids(listing: dict[str, Any], pattern: str | None) -> list[str]:
    """The ids of the listing's files whose path matches ``pattern`` (all files without one)."""
    ids = []
    for entry in listing.get("items", []):
        data = entry.get("data", entry)
        details = data.get("details") or {}
        if details.get("dataType", "FILE") != "FILE":
            continue
        if pattern and not fnmatch.fnmatch(details.get("path", ""), pattern):
            continue
        ids.append(data["id"])
    return ids


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


async def run(args: argparse.Namespace, listing: dict[str, Any]) -> int:
    """Link the listing's files, print the report; 0 when every file is linked."""
    ids = file_ids(listing, args.pattern)
    if not ids:
        print("no files in the listing match", file=sys.stderr)
        return 1
    async with ica_client(args) as (ica, project):
        print(f"linking {len(ids):,} files")
        orchestrator = BatchOrchestrator(ica, project, journal=args.journal)
        try:
            report = await orchestrator.link(ids)
        finally:
            orchestrator.close()
    for status, count in sorted(report.counts.items()):
        print(f"  {status:<16} {count:>8,}")
    print(f"  {report.batches} batches, {report.requests} requests, {report.elapsed_s:.1f} s")
    for failure in report.failures[:10]:
        print(f"  failed: {failure.key} {failure.status} {failure.info or ''}")
    return 0 if report.ok and report.total == len(ids) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listing", help="JSON listing (default: a made-up run folder)")
    parser.add_argument("--pattern", help="only paths matching this glob, e.g. '*.fastq.gz'")
    parser.add_argument("--files", type=int, default=1000, help="files in the made-up listing")
    parser.add_argument("--journal", help="SQLite journal, to resume an interrupted run")
    parser.add_argument("--base-url", help="a real ICA (default: an in-process simulator)")
    parser.add_argument("--api-key", help="with --base-url (default: ICA_API_KEY)")
    parser.add_argument("--access-token", help="with --base-url (default: ICA_ACCESS_TOKEN)")
    parser.add_argument("--project", help="with --base-url (default: ICA_PROJECT_ID)")
    args = parser.parse_args(argv)
    if args.listing:
        with open(args.listing, encoding="utf-8") as f:
            listing = json.load(f)
    else:
        listing = synthetic_listing(args.files)
    return asyncio.run(run(args, listing))


if __name__ == "__main__":
    sys.exit(main())
