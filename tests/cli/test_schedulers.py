"""Schedulers: SIGTERM stops like Ctrl-C (exit 143), --max-runtime stops at a deadline (124),
Ctrl-C during the imports exits 130 quietly, and late signals never change the exit status."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import tomllib
from pathlib import Path

import pytest

from ica_tapis_async.cli._schedule import duration, duration_text
from ica_tapis_async.orchestrator._journal_runs import list_runs
from ica_tapis_async.orchestrator._journal_sqlite import SqliteJournal
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, Cli, server_flags
from .launch import ROOT, launch, wait_for_handler
from .shell import finish, wait_until

COUNT = 600


def _ids(tmp_path: Path, tag: int) -> tuple[str, list[str]]:
    ids = [f"fil.{tag:04x}{i:028x}" for i in range(COUNT)]
    path = tmp_path / f"ids{tag}.txt"
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return str(path), ids


def _submitted(sim: Simulator, ids: list[str]) -> int:
    return sum(1 for i in ids if i in sim.stats.link_submissions)


def _link_argv(sim: Simulator, path: str, journal: Path, project: str = PROJECT) -> list[str]:
    return [
        "link",
        path,
        "--journal",
        str(journal),
        "--batch-size",
        "100",
        "--max-batches",
        "2",
        "--base-url",
        sim.ica_url,
        "--api-key",
        "test-key",
        "--project",
        project,
        "-q",
    ]


def _held_leases(journal: Path) -> list[int]:
    """The chunks of the journal's only run that someone still holds a lease on."""

    async def read() -> list[int]:
        store = SqliteJournal(journal)
        try:
            (run,) = await list_runs(store)
            return [c.index for c in await store.chunks(run.run_id) if c.owner is not None]
        finally:
            await store.aclose()

    return asyncio.run(read())


def test_console_script_is_the_entry_point_module() -> None:
    """The installed script imports the package only after its handlers are in place."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["ica-tapis-async"] == "_ica_tapis_async_cli:main"
    assert (
        "_ica_tapis_async_cli.py"
        in project["tool"]["hatch"]["build"]["targets"]["wheel"]["only-include"]
    )


def test_sigterm_stops_cleanly_releases_leases_and_a_rerun_starts_at_once(
    sim: Simulator, tmp_path: Path, cli: Cli
) -> None:
    """SIGTERM: exit 143, progress and resume hint printed, no lease left for a rerun to wait
    out (the lease lasts 30 s: a rerun that waited would take that long)."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    path, ids = _ids(tmp_path, 1)
    journal = tmp_path / "j.sqlite"
    argv = _link_argv(sim, path, journal)
    process = launch(*argv)
    wait_until(lambda: _submitted(sim, ids) >= 200 or process.poll() is not None)
    process.send_signal(signal.SIGTERM)
    result = finish(process)
    assert result.code == 143, result.err
    assert "Traceback" not in result.err
    assert result.err.count("Terminated (SIGTERM): stopped cleanly.") == 1
    assert "of 600 items had finished." in result.err
    assert "To resume, run the same command with the same --journal:" in result.err
    assert _held_leases(journal) == []

    started = time.monotonic()
    resumed = cli(*argv[:-1], "--json")
    assert resumed.code == 0, resumed.err
    assert time.monotonic() - started < 15
    report = json.loads(resumed.out)
    assert (report["total"], report["lost"], report["failures"]) == (COUNT, 0, [])


def test_ctrl_c_during_imports_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """A SIGINT at several instants of the first second: 130, never a traceback."""
    path, _ = _ids(tmp_path, 2)
    delays = (0.0, 0.01, 0.03, 0.06, 0.1, 0.2)
    processes = []
    for delay in delays:
        process = launch("link", path, "--simulator", "-q")
        wait_for_handler(process)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        processes.append(process)
    for delay, process in zip(delays, processes, strict=True):
        result = finish(process)
        assert result.code == 130, (delay, result.err)
        assert "Traceback" not in result.err, (delay, result.err)
        assert result.err.strip(), delay  # it says what happened


def test_sigterm_during_imports_exits_143_quietly(tmp_path: Path) -> None:
    """A SIGTERM before the command started: 143 and one line, nothing done."""
    path, _ = _ids(tmp_path, 3)
    process = launch("link", path, "--simulator", "-q")
    wait_for_handler(process)
    process.send_signal(signal.SIGTERM)
    result = finish(process)
    assert result.code == 143, result.err
    assert "Traceback" not in result.err


def test_signals_after_the_clean_stop_never_change_the_status(
    sim: Simulator, tmp_path: Path
) -> None:
    """Ctrl-C, then SIGINT and SIGTERM every 2 ms until the process is gone: still 130."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    path, ids = _ids(tmp_path, 4)
    process = launch(*_link_argv(sim, path, tmp_path / "j.sqlite", "project-late"))
    wait_until(lambda: _submitted(sim, ids) >= 100 or process.poll() is not None)
    process.send_signal(signal.SIGINT)
    # Let the Ctrl-C be handled first: two signals pending at once are not necessarily
    # handled in the order they were sent. Then the storm, until the process has ended.
    time.sleep(0.02)
    sent = 0
    while process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM if sent % 2 else signal.SIGINT)
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(0.002)
    result = finish(process)
    assert result.code == 130, result.err
    assert "Traceback" not in result.err
    assert result.err.count("stopped cleanly.") == 1
    assert sent > 3, sent


def test_max_runtime_stops_cleanly_at_the_deadline(
    sim: Simulator, tmp_path: Path, cli: Cli
) -> None:
    """--max-runtime: stopped as on Ctrl-C, exit 124, and the same command resumes."""
    sim.configure(step_s=0.3, item_rate=200.0)
    path, ids = _ids(tmp_path, 5)
    journal = tmp_path / "j.sqlite"
    argv = ["link", path, "--journal", str(journal), "--batch-size", "100", "--max-batches", "1"]
    stopped = cli(*argv, "--max-runtime", "1.5s", *server_flags(sim))
    assert stopped.code == 124, stopped.err
    lines = stopped.err.splitlines()
    assert "Stopped at --max-runtime 1.5s: stopped cleanly." in lines
    assert "To resume, run the same command with the same --journal:" in stopped.err
    assert len(sim.links(PROJECT)) < COUNT
    assert _held_leases(journal) == []
    sim.configure(step_s=0.02, item_rate=5000.0)
    resumed = cli(*argv, "--max-runtime", "10m", "--json", *server_flags(sim))
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["total"] == COUNT
    assert sim.links(PROJECT) >= set(ids)


@pytest.mark.parametrize("text", ["0", "-5", "nan", "inf", "2x", "1h-3m", ""])
def test_bad_max_runtime_is_exit_2_naming_the_flag(cli: Cli, text: str, tmp_path: Path) -> None:
    """A duration that is not one: exit 2, one line naming --max-runtime."""
    path, _ = _ids(tmp_path, 6)
    result = cli("link", path, "--simulator", f"--max-runtime={text}")
    assert result.code == 2
    assert "--max-runtime" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_durations() -> None:
    """The duration forms and their display."""
    assert [duration(t) for t in ("90", "90s", "45m", "2h", "1d", "1h30m", "0.5s")] == [
        90.0,
        90.0,
        2700.0,
        7200.0,
        86400.0,
        5400.0,
        0.5,
    ]
    assert [duration_text(s) for s in (7200.0, 5400.0, 1.5, 90.0)] == [
        "2h",
        "1h30m",
        "1.5s",
        "1m30s",
    ]


def test_max_runtime_stops_tapis_transfers_too(cli: Cli, tmp_path: Path) -> None:
    """``transfers create --max-runtime``: the tasks created so far are named, exit 124."""
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "".join(f"tapis://a/f{i} tapis://b/f{i}\n" for i in range(4)), encoding="utf-8"
    )
    argv = ["transfers", "create", str(pairs), "--simulator", "--sim", "tapis_step_s=5", "-q"]
    result = cli(*argv, "--max-runtime", "1")
    assert result.code == 124, result.err
    assert "Stopped at --max-runtime 1s: stopped cleanly." in result.err
    assert "transfer task" in result.err
