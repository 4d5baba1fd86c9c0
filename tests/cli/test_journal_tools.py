"""Journal tools: runs, status of the latest run, export, run ids printed, retrying failures."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli import _commands
from ica_tapis_async.cli._progress import StageBar
from ica_tapis_async.orchestrator import Progress
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, Cli, server_flags, write
from .shell import SCRIPT, environment

GOOD = [f"fil.{i:032x}" for i in range(50)]
BAD = ["fil.missing-1", "fil.missing-2"]


def _first_run(cli: Cli, sim: Simulator, tmp_path: Path) -> tuple[str, str]:
    """A link run of 52 ids, two of which do not exist; returns (journal, run id)."""
    path = write(tmp_path, "ids.txt", "\n".join(GOOD + BAD) + "\n")
    journal = str(tmp_path / "j.sqlite")
    result = cli("link", path, "--journal", journal, "--batch-size", "20", "--json",
                 *server_flags(sim))  # fmt: skip
    assert result.code == 1, result.err
    return journal, json.loads(result.out)["run_id"]


def test_runs_status_and_export_of_a_run(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    """runs lists it; status without --run-id shows it; export gives one line per item."""
    journal, run_id = _first_run(cli, sim, tmp_path)
    runs = cli("runs", "--journal", journal, "--json")
    assert runs.code == 0, runs.err
    (row,) = json.loads(runs.out)
    assert (row["run_id"], row["kind"], row["project_id"]) == (run_id, "link", PROJECT)
    assert row["items"] == {"FAILED": 2, "LINKED": 50}
    assert row["finished"] is not None
    assert row["workers"] == []
    table = cli("runs", "--journal", journal)
    assert run_id in table.out
    assert "LINKED 50" in table.out

    status = cli("status", "--journal", journal, "--json")
    assert status.code == 0, status.err
    assert json.loads(status.out)["run_id"] == run_id

    exported = cli("export", "--journal", journal, "--format", "csv")
    assert exported.code == 0, exported.err
    rows = list(csv.DictReader(io.StringIO(exported.out)))
    assert [r["key"] for r in rows] == GOOD + BAD
    assert {r["key"]: r["status"] for r in rows if r["ok"] == "False"} == dict.fromkeys(
        BAD, "FAILED"
    )
    assert all(r["batch_id"] for r in rows)
    assert f"52 items of run {run_id} (link)" in exported.err
    lines = cli("export", "--journal", journal, "--run-id", run_id, "--format", "jsonl")
    items = [json.loads(line) for line in lines.out.splitlines()]
    assert len(items) == 52
    assert set(items[0]) == {
        "key", "status", "ok", "info", "batch_id", "item_id", "analysis_id", "chunk",
        "resubmitted", "in_doubt",
    }  # fmt: skip


def test_retry_the_failures_under_a_new_run_id(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    """The README's recipe: export the failed ids, run them again as a new, named run."""
    journal, run_id = _first_run(cli, sim, tmp_path)
    failed = cli("export", "--journal", journal, "--only-failed", "--format", "ids")
    assert failed.out.splitlines() == BAD
    path = write(tmp_path, "failed.txt", failed.out)
    retry = cli("link", path, "--journal", journal, "--run-id", "retry-1", "--json",
                *server_flags(sim))  # fmt: skip
    report = json.loads(retry.out)
    assert (report["run_id"], report["total"]) == ("retry-1", 2)
    runs = json.loads(cli("runs", "--journal", journal, "--json").out)
    assert [r["run_id"] for r in runs] == ["retry-1", run_id]
    # The first run is untouched: its report is still the same.
    assert runs[1]["items"] == {"FAILED": 2, "LINKED": 50}


def test_tools_explain_what_is_missing(cli: Cli, tmp_path: Path) -> None:
    """No file, no run, an unknown run: exit 2, one line each; no file is created."""
    missing = str(tmp_path / "nope.sqlite")
    for argv in (["runs"], ["status"], ["export"]):
        result = cli(*argv, "--journal", missing)
        assert (result.code, result.err.strip()) == (2, f"error: --journal {missing}: no such file")
    assert not Path(missing).exists()
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    for argv in (["status"], ["export"]):
        result = cli(*argv, "--journal", str(empty))
        assert (result.code, result.err.strip()) == (
            2,
            f"error: --journal {empty}: no run recorded yet",
        )
    assert cli("runs", "--journal", str(empty)).out.startswith("no runs in ")
    unknown = cli("export", "--journal", str(empty), "--run-id", "r9")
    assert (unknown.code, unknown.err.strip()) == (2, "error: no run 'r9' in this journal")


def test_an_interrupted_run_prints_its_run_id(
    cli: Cli, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C: the run id is printed (the journal chose it: no --run-id was given)."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    path = write(tmp_path, "ids.txt", "".join(f"fil.{i:032x}\n" for i in range(600)))
    journal = str(tmp_path / "j.sqlite")
    original = StageBar.__call__

    def call(self: StageBar, snapshot: Progress) -> None:
        original(self, snapshot)
        if snapshot.done:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(StageBar, "__call__", call)
    stopped = cli("link", path, "--journal", journal, "--batch-size", "100", *server_flags(sim))
    monkeypatch.undo()
    assert stopped.code == 130, stopped.err
    match = re.search(r"^Run id: (\S+)$", stopped.err, re.MULTILINE)
    assert match, stopped.err
    runs = json.loads(cli("runs", "--journal", journal, "--json").out)
    assert [r["run_id"] for r in runs] == [match.group(1)]


def test_resend_in_doubt_reaches_the_orchestrator(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """analyses --resend-in-doubt is the library's resend_in_doubt (off unless given)."""
    seen: list[bool] = []
    real = ita.BatchOrchestrator

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["resend_in_doubt"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_commands, "BatchOrchestrator", spy)
    sheet = write(tmp_path, "s.csv", "userReference,pipelineId,input:reads\ns1,pip.1,fil.1\n")
    assert cli("analyses", sheet, "--simulator", "-q").code == 0
    assert cli("analyses", sheet, "--simulator", "-q", "--resend-in-doubt").code == 0
    assert seen == [False, True]


def test_a_reader_that_goes_away_is_a_quiet_141(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    """``export ... | head``: the reader is gone; no error, no report dumped on stderr."""
    journal, _ = _first_run(cli, sim, tmp_path)
    read, write_end = os.pipe()
    os.close(read)  # every write now meets EPIPE
    try:
        done = subprocess.run(
            [SCRIPT, "export", "--journal", journal],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "error" not in done.stderr
    assert "Traceback" not in done.stderr


def test_runs_calls_a_stopped_run_unfinished_not_running(cli: Cli, tmp_path: Path) -> None:
    """A run stopped yesterday (no finish time, no lease held) is not shown as "running" (an
    operator would wait for it); one whose chunk a worker holds is."""
    import asyncio

    journal = tmp_path / "j.sqlite"

    async def populate() -> None:
        store = ita.SqliteJournal(journal)
        try:
            await store.open_run("link", "P", "stopped-1", "batch_size=10")
            await store.open_run("link", "P", "live-1", "batch_size=10")
            claim = await store.claim("live-1", 0, key="k", digest="d", owner="host:1", ttl_s=300.0)
            assert claim.lease is not None
        finally:
            await store.aclose()

    asyncio.run(populate())
    table = cli("runs", "--journal", str(journal))
    assert table.code == 0, table.err
    rows = {line.split()[1]: line for line in table.out.splitlines() if "-1 " in line}
    assert "running" in rows["live-1"], table.out
    assert "running" not in rows["stopped-1"], table.out
    assert "unfinished" in rows["stopped-1"], table.out


def test_status_calls_a_stopped_run_unfinished(cli: Cli, tmp_path: Path) -> None:
    """status says the same as runs: no finish time and no live lease is "unfinished"."""
    import asyncio

    journal = tmp_path / "j.sqlite"

    async def populate() -> None:
        store = ita.SqliteJournal(journal)
        try:
            await store.open_run("link", "P", "stopped-1", "batch_size=10")
        finally:
            await store.aclose()

    asyncio.run(populate())
    status = cli("status", "--journal", str(journal))
    assert "run stopped-1: link, unfinished" in status.out, status.out
