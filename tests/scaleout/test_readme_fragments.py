"""The README's Python fragments run, each in the context it assumes (a client ``ica``, a
``project_id``...): here, beside the scale-out tests, for the real Redis and PostgreSQL that the
scale-out fragment needs in place of its example addresses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.servers import PostgresServer, RedisServer

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    rest = README[README.index(title + "\n") + len(title) + 1 :]
    level = title.index(" ")  # a section ends at the next heading of its level or above
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


#: What each fragment (by its first line) assumes is already there, set up by the runner:
#: names (``ica``, ``project_id``, ``data_ids``...) and, for the scale-out one, servers.
_CONTEXT = """
import asyncio, inspect, os, sys, ast
import pytest
import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator, SimulatorConfig
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

BLOCK = sys.stdin.read()


async def main() -> None:
    async with Simulator() as sim:
        ns = {"ita": ita, "pytest": pytest, "Simulator": Simulator,
              "SimulatorConfig": SimulatorConfig}
        ns["base_url"] = ns["url"] = sim.ica_url
        ns["key"] = "any-key"
        ns["project_id"] = ns["pid"] = "5a1e0000-0000-4000-8000-00000000feed"
        ns["data_ids"] = ns["ids"] = [f"fil.{i:032x}" for i in range(300)]
        ns["pipeline_id"] = "pip.readme"
        reads = ita.AnalysisDataInput("reads", data_ids=["fil.1"])
        ns["inputs"] = ita.NextflowAnalysisInput([reads])
        ns["my_tracer_provider"] = ns["tp"] = TracerProvider()
        ns["my_meter_provider"] = ns["mp"] = MeterProvider()
        async with ita.IcaClient(sim.ica_url, api_key="any-key") as ica:
            ns["ica"] = ica
            ns["tid"] = [t async for t in ica.data_transfers.list(ns["pid"])][0].id
            code = compile(BLOCK, "<README>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, ns)
            if inspect.iscoroutine(result):
                await result
            # What a fragment opened without a context manager, it is closed here.
            for name in ("orch", "ica", "patient"):
                obj = ns.get(name)
                if obj is not None and obj is not ica and hasattr(obj, "aclose"):
                    await obj.aclose()
    print("ran")


asyncio.run(main())
"""


def _fragments() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    quick = re.findall(r"```python\n(.*?)```", _section("## Quick example"), re.DOTALL)[0]
    fixture = re.findall(r"```python\n(.*?)```", _section("### pytest fixture"), re.DOTALL)[0]
    # The quick example and the pytest plugin's example run as whole programs elsewhere.
    return [b for b in blocks if b not in (quick, fixture)]


def test_every_fragment_runs_in_the_context_it_assumes(
    tmp_path: Path, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    """Each Python fragment runs against a simulator with the names it uses defined (a
    client ``ica``, ``project_id``, ``data_ids``...); the scale-out one against real Redis
    and PostgreSQL servers in place of its example addresses."""
    fragments = _fragments()
    assert len(fragments) == 6
    script = tmp_path / "run_fragment.py"
    script.write_text(_CONTEXT, encoding="utf-8")
    for fragment in fragments:
        text = fragment.replace("redis://redis:6379/0", redis_server.url).replace(
            "postgresql://ingest@db/ingest", postgres_server.dsn()
        )
        done = subprocess.run(
            [sys.executable, str(script)],
            input=text,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, fragment + done.stderr[-3000:]
        assert done.stdout.rstrip().endswith("ran"), fragment
