"""The subcommands end to end against the simulator: reports, JSON, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import re
import shlex
import signal
from pathlib import Path
from typing import Any

import pytest

from ica_tapis_async.cli._progress import StageBar
from ica_tapis_async.orchestrator import Progress
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, Cli, server_flags, write

PIPE = "9b1f0000-0000-4000-8000-000000000001"


def ids_file(tmp_path: Path, count: int, name: str = "ids.txt") -> tuple[str, list[str]]:
    """A file of ``count`` file ids."""
    ids = [f"fil.{i:032x}" for i in range(count)]
    return write(tmp_path, name, "\n".join(ids) + "\n"), ids


def test_link_json_report(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    """``link --json`` links every id and prints the report as JSON."""
    path, ids = ids_file(tmp_path, 250)
    result = cli("link", path, "--json", "--batch-size", "100", *server_flags(sim))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["total"] == report["expected"] == 250
    assert report["counts"] == {"LINKED": 250}
    assert report["lost"] == 0
    assert report["batches"] == 3
    assert sim.links(PROJECT) >= set(ids)


def test_link_table_report(cli: Cli, tmp_path: Path) -> None:
    """Without --json the report is a table on stdout."""
    path, _ = ids_file(tmp_path, 20)
    result = cli("link", path, "--simulator", "--quiet")
    assert result.code == 0, result.err
    rows = [line.split("│")[1:3] for line in result.out.splitlines() if line.startswith("│")]
    cells = {name.strip(): value.strip() for name, value in rows}
    assert cells["LINKED"] == cells["total"] == "20"
    assert re.fullmatch(r"\d+ \(0 retries\)", cells["requests"]), cells


def test_bad_input_file_exits_2_with_file_line_field(cli: Cli, tmp_path: Path) -> None:
    """A bad line stops the command before anything is sent, naming file, line and field."""
    path = write(tmp_path, "ids.txt", "fil.a\nfil.b\nfil c\n")
    result = cli("link", path, "--simulator")
    assert result.code == 2
    assert result.err.splitlines() == [f"error: {path}:3: dataId: 'fil c' is not a valid data id"]


def test_update_applies_tags_and_dates(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    """``update`` with a CSV spec and flags tags the data and sets the archive time."""
    spec = write(
        tmp_path,
        "spec.csv",
        "dataId,addTags,willBeArchivedAt\nfil.a1,qc,2030-01-01T00:00:00Z\nfil.a2,qc,\n",
    )
    result = cli("update", spec, "--add-tag", "run7", "--json", *server_flags(sim))
    assert result.code == 0, result.err
    assert json.loads(result.out)["counts"] == {"UPDATED": 2}
    details = sim.data("fil.a1")["details"]
    assert {"qc", "run7"} <= set(details["tags"]["userTags"])
    assert details["willBeArchivedAt"].startswith("2030-01-01T00:00:00")


def test_analyses_resume_creates_nothing_twice(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    """Re-running ``analyses`` with the same journal replays it; no analysis is made twice."""
    rows = "".join(f"S{i},{PIPE},fil.{i:04d}\n" for i in range(30))
    sheet = write(tmp_path, "sheet.csv", "userReference,pipelineId,input:reads\n" + rows)
    journal = str(tmp_path / "j.sqlite")
    argv = ["analyses", sheet, "--journal", journal, "--batch-size", "10", "--json"]
    first = cli(*argv, *server_flags(sim))
    second = cli(*argv, *server_flags(sim))
    assert first.code == second.code == 0, first.err + second.err
    one, two = json.loads(first.out), json.loads(second.out)
    assert one["counts"] == two["counts"] == {"SUCCEEDED": 30}
    assert one["run_id"] == two["run_id"]
    assert sim.stats.analyses_created == 30
    assert set(sim.stats.analyses_by_user_reference.values()) == {1}


def test_failed_items_exit_1_and_are_listed(cli: Cli, tmp_path: Path) -> None:
    """Items that fail make the exit code 1; --json lists each failure."""
    sheet = write(
        tmp_path,
        "sheet.csv",
        f"userReference,pipelineId,input:reads\nS1,pipe-missing,fil.a\nS2,{PIPE},fil.b\n",
    )
    result = cli("analyses", sheet, "--simulator", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["counts"] == {"FAILED": 1, "SUCCEEDED": 1}
    assert [f["key"] for f in report["failures"]] == ["S1"]


def test_transfers_create_waits_for_every_task(cli: Cli, tmp_path: Path) -> None:
    """``transfers create`` makes one task per line (or per --per-task lines) and waits."""
    pairs = write(
        tmp_path,
        "pairs.txt",
        "".join(f"tapis://a/run{i}/ tapis://b/run{i}/\n" for i in range(5)),
    )
    result = cli("transfers", "create", pairs, "--per-task", "2", "--simulator", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["total"] == 3
    assert report["counts"] == {"COMPLETED": 3}
    assert len({task["tag"] for task in report["tasks"]}) == 3


def test_transfers_list_and_abort(cli: Cli, sim: Simulator) -> None:
    """``transfers list`` shows the project's transfers; ``abort`` stops the ongoing ones."""
    # Ongoing transfers that stay ongoing while the test runs, however loaded the machine.
    sim.configure(transfer_duration_s=60.0)
    listed = cli("transfers", "list", "--json", *server_flags(sim))
    assert listed.code == 0, listed.err
    transfers: list[dict[str, Any]] = json.loads(listed.out)
    ongoing = [t["id"] for t in transfers if t["status"] == "ONGOING"]
    assert transfers
    assert ongoing
    aborted = cli("transfers", "abort", *ongoing, "--wait", "--json", *server_flags(sim))
    assert aborted.code == 0, aborted.err
    results = json.loads(aborted.out)
    assert {r["status"] for r in results} == {"ABORTED"}
    assert {r["result"] for r in results} == {"abort requested"}
    missing = cli("transfers", "abort", "no-such-transfer", "--json", *server_flags(sim))
    assert missing.code == 1
    assert json.loads(missing.out)[0]["result"] == "not found"


def test_demo_tiny_exits_0(cli: Cli) -> None:
    """A tiny demo accounts for every item of every stage."""
    result = cli(
        "demo", "--fast", "--items", "300", "--analyses", "5", "--transfers", "3", "--json"
    )
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["ok"] is True
    assert {name: s["lost"] for name, s in summary["stages"].items()} == {
        "link": 0,
        "tag": 0,
        "analyses": 0,
        "transfers": 0,
    }
    assert summary["stages"]["link"]["counts"] == {"LINKED": 300}


def _interrupt_after_first_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliver a real SIGINT (Ctrl-C) once the first batch has finished."""
    original = StageBar.__call__
    sent = False

    def call(self: StageBar, snapshot: Progress) -> None:
        nonlocal sent
        original(self, snapshot)
        if snapshot.done and not sent:
            sent = True
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(StageBar, "__call__", call)


def test_ctrl_c_stops_cleanly_and_the_journal_resumes(
    cli: Cli, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C exits 130 with the resume command; the same command then finishes the job."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    path, ids = ids_file(tmp_path, 1200)
    journal = str(tmp_path / "link.sqlite")
    argv = ["link", path, "--journal", journal, "--batch-size", "100", "--max-batches", "4"]
    with monkeypatch.context() as patch:
        _interrupt_after_first_batch(patch)
        stopped = cli(*argv, *server_flags(sim))
    assert stopped.code == 130
    lines = stopped.err.splitlines()
    tail = lines[lines.index("Interrupted: stopped cleanly.") :]
    assert re.fullmatch(r"  [\d,]+ of 1,200 items had finished\.", tail[1]), tail
    command = shlex.join(["ica-tapis-async", *argv, *server_flags(sim)])
    assert re.fullmatch(r"Run id: [0-9a-f]{16}", tail[2]), tail
    assert tail[:1] + tail[3:] == [
        "Interrupted: stopped cleanly.",
        "Progress is recorded in the journal. To resume, run the same command with the same "
        "--journal:",
        "  " + command.replace("--api-key test-key", '--api-key "$ICA_API_KEY"'),
        "(credentials are shown as ICA_API_KEY: set them, or put yours back, before running it)",
    ]
    assert len(sim.links(PROJECT)) < len(ids)

    resumed = cli(*argv, "--json", *server_flags(sim))
    assert resumed.code == 0, resumed.err
    report = json.loads(resumed.out)
    assert report["total"] == 1200
    assert report["lost"] == 0
    assert sim.links(PROJECT) >= set(ids)
    # Finished batches came from the journal: fewer than all 12 were sent again.
    assert max(sim.stats.link_submissions.values()) <= 2
    assert sum(sim.stats.link_submissions.values()) < 2 * len(ids)


def test_ctrl_c_without_journal_says_so(
    cli: Cli, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --journal the interruption message explains how to make runs resumable."""
    sim.configure(step_s=0.05)
    path, _ = ids_file(tmp_path, 600)
    _interrupt_after_first_batch(monkeypatch)
    result = cli("link", path, "--batch-size", "100", "--max-batches", "2", *server_flags(sim))
    assert result.code == 130
    lines = result.err.splitlines()
    tail = lines[lines.index("Interrupted: stopped cleanly.") :]
    assert re.fullmatch(r"  [\d,]+ of 600 items had finished\.", tail[1]), tail
    assert tail[2:] == [
        "This run had no --journal, so nothing was recorded. Run again with --journal FILE to "
        "make it resumable (links and tag updates are safe to repeat; analyses launched without "
        "a journal would be created again)."
    ]
