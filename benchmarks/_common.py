"""Shared pieces of the benchmark scripts: payloads, a fast static HTTP server, tables, targets.

Not a benchmark itself. Importing it makes the repository importable when a script is run as
``python benchmarks/bench_x.py`` from a checkout without an installed package.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROJECT_ID = "3f1e8d0a-1c2b-4d5e-8f90-0a1b2c3d4e5f"
BATCH_ID = "7b9c2e10-5d4f-4a3b-9c8d-1e2f3a4b5c6d"
ITEM_ID = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
_TENANT = "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
_USER = "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d"
_WHEN = "2024-05-01T10:00:00Z"


def linking_item(i: int = 0) -> dict[str, Any]:
    """A V4 linking-batch item as ICA sends it once LINKED: about 2.5 KB of JSON."""
    data_id = f"fil.{i:032x}"
    return {
        "id": ITEM_ID if i == 0 else f"0c1d2e3f-4a5b-4c6d-8e7f-{i:012x}",
        "request": {"dataId": data_id},
        "processing": {"status": "LINKED", "additionalStatusInformation": None},
        "createdProjectData": {
            "projectId": PROJECT_ID,
            "data": {
                "id": data_id,
                "urn": f"urn:ilmn:ica:region:c39b1feb-3e94-4440-805e-45e0c76462bf:data:{data_id}"
                f"#/runs/240501_A01234_0042_BHXYZ/Sample_{i:05d}/S{i:05d}_L001_R1_001.fastq.gz",
                "details": {
                    "timeCreated": _WHEN,
                    "timeModified": "2024-05-02T08:15:30Z",
                    "creatorId": _USER,
                    "tenantId": _TENANT,
                    "tenantName": "genomics-core-facility",
                    "owningProjectId": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
                    "owningProjectName": "sequencing-runs-2024",
                    "name": f"S{i:05d}_L001_R1_001.fastq.gz",
                    "path": f"/runs/240501_A01234_0042_BHXYZ/Sample_{i:05d}/",
                    "fileSizeInBytes": 4_831_215_104 + i,
                    "status": "AVAILABLE",
                    "tags": {
                        "technicalTags": ["instrument:novaseq-x", "run:240501_A01234_0042"],
                        "userTags": ["batch-2024-05", "qc-passed"],
                        "connectorTags": [],
                        "runInTags": [],
                        "runOutTags": [],
                        "referenceTags": [],
                    },
                    "format": {
                        "id": "e7f8a9b0-c1d2-4e3f-8a4b-5c6d7e8f9a0b",
                        "timeCreated": "2021-03-04T12:00:00Z",
                        "timeModified": "2021-03-04T12:00:00Z",
                        "ownerId": _USER,
                        "tenantId": _TENANT,
                        "tenantName": "genomics-core-facility",
                        "code": "FASTQ",
                        "description": "FASTQ sequence file (gzip compressed)",
                        "mimeType": "application/gzip",
                    },
                    "dataType": "FILE",
                    "objectETag": "d41d8cd98f00b204e9800998ecf8427e-577",
                    "storedForTheFirstTimeAt": "2024-05-01T10:02:11Z",
                    "region": {
                        "id": "c39b1feb-3e94-4440-805e-45e0c76462bf",
                        "timeCreated": "2020-01-01T00:00:00Z",
                        "timeModified": "2023-06-01T00:00:00Z",
                        "ownerId": _USER,
                        "tenantId": _TENANT,
                        "tenantName": "illumina",
                        "code": "EU",
                        "country": {
                            "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                            "timeCreated": "2020-01-01T00:00:00Z",
                            "timeModified": "2020-01-01T00:00:00Z",
                            "ownerId": _USER,
                            "tenantId": _TENANT,
                            "tenantName": "illumina",
                            "code": "DE",
                            "name": "Germany",
                            "region": "Europe",
                        },
                        "cityName": "Frankfurt",
                    },
                    "application": {
                        "id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                        "name": "ICA",
                    },
                    "willBeArchivedAt": "2024-11-01T00:00:00Z",
                    "willBeDeletedAt": None,
                    "sequencingRun": {
                        "id": "3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f",
                        "instrumentRunId": "240501_A01234_0042_BHXYZ",
                        "name": "240501_A01234_0042_BHXYZ",
                    },
                },
            },
        },
    }


def linking_page(size: int) -> dict[str, Any]:
    """A V4 page of ``size`` linking items, as ICA's cursor paging sends it."""
    return {
        "items": [linking_item(i) for i in range(size)],
        "nextPageToken": "eyJvZmZzZXQiOjEwMDAsInNvcnQiOiJ0aW1lQ3JlYXRlZCJ9",
        "remainingRecords": 24_000,
    }


# -- a fast static HTTP/1.1 server, in its own process -------------------------------------------


class _Static(asyncio.Protocol):
    """Answers every request on a keep-alive connection with the same canned response."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        # GET requests have no body: every blank line ends one request.
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count and self.transport is not None:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(self.response * count)


def _serve(body: bytes, content_type: str, conn: Connection) -> None:
    head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode()
    response = head + body

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Static(response), "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


class StaticServer:
    """A static server on 127.0.0.1 in a child process, so its CPU is not the client's.

    Example:
        >>> with StaticServer(body, "application/json") as port: ...
    """

    def __init__(self, body: bytes, content_type: str) -> None:
        self._args = (body, content_type)
        self._process: Any = None

    def __enter__(self) -> int:
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(*self._args, child), daemon=True
        )
        process.start()
        self._process = process
        port: int = parent.recv()
        return port

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join()


# -- the simulator in its own process ------------------------------------------------------------


class SimulatorProcess:
    """``python -m ica_tapis_async.simulator`` in a child process, so its CPU is not ours.

    Args:
        knobs: SimulatorConfig fields (``{"rate_limit": 50, "gzip": False}``).

    Example:
        >>> with SimulatorProcess({"rate_limit": 50}) as sim:
        ...     print(sim.ica_url, sim.stats()["throttled"])
    """

    def __init__(self, knobs: Mapping[str, Any]) -> None:
        self.argv = [sys.executable, "-m", "ica_tapis_async.simulator", "--port", "0"]
        for name, value in knobs.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                self.argv.append(flag if value else "--no-" + name.replace("_", "-"))
            else:
                self.argv += [flag, "none" if value is None else str(value)]
        self._process: subprocess.Popen[str] | None = None
        self.ica_url = self.tapis_url = self.base_url = ""

    def __enter__(self) -> SimulatorProcess:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self._process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        out: IO[str] | None = self._process.stdout
        assert out is not None
        for _ in range(3):
            key, _, value = out.readline().strip().partition(": ")
            if key == "ICA":
                self.ica_url = value
            elif key == "Tapis":
                self.tapis_url = value
        if not self.ica_url:
            self._process.kill()
            raise RuntimeError(f"the simulator did not start: {' '.join(self.argv)}")
        self.base_url = self.tapis_url.rstrip("/")
        return self

    def stats(self) -> dict[str, Any]:
        """The simulator's counters (``GET /_simulator/stats``)."""
        with urllib.request.urlopen(self.base_url + "/_simulator/stats", timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)


# -- reporting -----------------------------------------------------------------------------------


def machine() -> str:
    """One line about where the figures come from."""
    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable as plain text too)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def target(name: str, value: float, goal: float, *, at_most: bool = False) -> tuple[str, bool]:
    """``"name: 0.93 (target >= 0.80) MET"``, and whether it was met."""
    met = value <= goal if at_most else value >= goal
    sign = "<=" if at_most else ">="
    return f"{name}: {value:,.2f} (target {sign} {goal:,.2f}) {'MET' if met else 'MISSED'}", met


def report(title: str, body: str, targets: Sequence[tuple[str, bool]], notes: str = "") -> bool:
    """Print a benchmark's section; returns whether every target was met."""
    print(f"## {title}\n")
    print(f"_{machine()}_\n")
    print(body + "\n")
    for text, met in targets:
        print(f"- {text}" if met else f"- **{text}**")
    if notes:
        print(f"\n{notes}")
    print()
    return all(met for _, met in targets)


def best_of(repeat: int, run: Callable[[], float]) -> tuple[float, float]:
    """Run ``run`` (returning a rate) ``repeat`` times: the best and the median rate."""
    rates = [run() for _ in range(repeat)]
    return max(rates), statistics.median(rates)


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB (Linux ``/proc``; else the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return max_rss_mib()
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / (1024 * 1024)
