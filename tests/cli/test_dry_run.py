"""``--dry-run``: every input check, one authenticated GET, the plan; nothing created, updated
or aborted (checked on the audit of a simulator served by another process)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import PROJECT, Cli
from .served import Served, served_simulator

OTHER_PROJECT = "5a1e0000-0000-4000-8000-00000000c1e1"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A served simulator that knows one project and one API key."""
    with served_simulator("--known-projects", PROJECT, "--api-keys", "good-key") as server:
        yield server


def _flags(served: Served, project: str = PROJECT, key: str = "good-key") -> list[str]:
    return ["--base-url", served.ica_url, "--api-key", key, "--project", project]


def _ids(tmp_path: Path, count: int = 25) -> Path:
    source = tmp_path / "ids.txt"
    source.write_text("".join(f"fil.{i:032x}\n" for i in range(1, count + 1)), encoding="utf-8")
    return source


def _sent(served: Served, before: dict[str, int]) -> dict[str, int]:
    after = served.operations()
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}


def test_link_dry_run_prints_the_plan_and_sends_one_get(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    before = served.operations()
    journal = tmp_path / "new.sqlite"
    argv = ["link", str(_ids(tmp_path)), "--dry-run", "--batch-size", "10", "--rate", "2"]
    result = cli(*argv, "--journal", str(journal), "--json", *_flags(served))
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert plan["dry_run"] is True
    assert (plan["items"], plan["batches"], plan["batch_size"]) == (25, 3, 10)
    assert plan["requests_at_least"] == 13  # the check, then a create and 3 reads a batch
    assert plan["seconds_at_rate"] == 6.5
    assert _sent(served, before) == {"getDataTransfers": 1}
    assert not journal.exists()  # a dry run records nothing
    text = cli(*argv, *_flags(served))
    assert text.code == 0
    assert "25 items in 3 batches of up to 10" in text.out
    assert "time at --rate 2/s: at least 6.5 s" in text.out


def test_update_and_analyses_dry_runs_send_one_get(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    before = served.operations()
    update = cli("update", str(_ids(tmp_path)), "--add-tag", "qc", "--dry-run", *_flags(served))
    assert update.code == 0, update.err
    assert "dry run of update: 25 items in 1 batch of up to 1,000" in update.out
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("userReference,pipelineId\ns1,pipe-1\ns2,pipe-1\n", encoding="utf-8")
    analyses = cli("analyses", str(sheet), "--dry-run", "--json", *_flags(served))
    assert analyses.code == 0, analyses.err
    assert json.loads(analyses.out)["batches"] == 1
    assert _sent(served, before) == {"getDataTransfers": 2}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--batch-size", "30000"], "batch_size"),
        (["--run-id", "bad id"], "run_id"),
    ],
)
def test_a_bad_option_exits_2_before_any_request(
    cli: Cli, served: Served, tmp_path: Path, argv: list[str], message: str
) -> None:
    before = served.operations()
    result = cli("link", str(_ids(tmp_path)), "--dry-run", *argv, *_flags(served))
    assert result.code == 2
    assert message in result.err
    assert _sent(served, before) == {}


def test_a_bad_sheet_exits_2_before_any_request(cli: Cli, served: Served, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("userReference,pipelineId\ns1,pipe-1\ns1,pipe-1\n", encoding="utf-8")
    before = served.operations()
    result = cli("analyses", str(sheet), "--dry-run", *_flags(served))
    assert result.code == 2
    assert "s1" in result.err
    assert _sent(served, before) == {}


def test_refused_credentials_or_project_exit_2(cli: Cli, served: Served, tmp_path: Path) -> None:
    ids = str(_ids(tmp_path))
    key = cli("link", ids, "--dry-run", *_flags(served, key="wrong-key"))
    assert key.code == 2
    assert "refused the credentials" in key.err
    assert "wrong-key" not in key.err + key.out
    project = cli("link", ids, "--dry-run", *_flags(served, project=OTHER_PROJECT))
    assert project.code == 2
    assert f"project {OTHER_PROJECT}" in project.err


def test_an_unreachable_server_exits_2(cli: Cli, tmp_path: Path) -> None:
    with served_simulator() as gone:
        url = gone.ica_url
    argv = ["link", str(_ids(tmp_path)), "--dry-run", "--unreachable-after", "0.5"]
    result = cli(*argv, "--base-url", url, "--api-key", "k", "--project", PROJECT)
    assert result.code == 2
    assert "reach" in result.err


def test_a_journal_run_with_other_input_exits_2_and_a_resume_is_planned(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    ids, journal = _ids(tmp_path), str(tmp_path / "run.sqlite")
    run = ["--journal", journal, "--run-id", "nightly", "--batch-size", "10", *_flags(served)]
    assert cli("link", str(ids), "-q", *run).code == 0
    before = served.operations()
    resume = cli("link", str(ids), "--dry-run", "--json", *run)
    assert resume.code == 0, resume.err
    plan = json.loads(resume.out)
    assert plan["journal"] == {"journal": journal, "run_id": "nightly", "resumes": True, "done": 3}
    assert (plan["batches_to_send"], plan["requests_at_least"]) == (0, 1)
    other = tmp_path / "other.txt"
    other.write_text(ids.read_text(encoding="utf-8").replace("fil.0", "fil.9", 1), "utf-8")
    changed = cli("link", str(other), "--dry-run", *run)
    assert changed.code == 2
    assert "entry 0 of run nightly was recorded with other input" in changed.err
    longer = tmp_path / "longer.txt"
    longer.write_text(ids.read_text(encoding="utf-8") + f"fil.{99:032x}\n", "utf-8")
    assert cli("link", str(longer), "--dry-run", *run).code == 2
    kind = cli("update", str(ids), "--add-tag", "x", "--dry-run", *run)
    assert kind.code == 2
    assert "link run" in kind.err
    assert str(tmp_path / "run.sqlite") in kind.err  # the journal's name, not a copy's
    # One batch either way, so the same chunk: the batch size alone differs from the run's.
    size = cli("link", str(ids), "--dry-run", *run, "--batch-size", "30")
    assert size.code == 2
    assert "recorded with batch_size=10; this call has batch_size=30" in size.err
    assert _sent(served, before) == {"getDataTransfers": 1}


def test_without_run_id_the_run_a_rerun_would_resume_is_checked(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    ids, journal = _ids(tmp_path, 5), tmp_path / "run.sqlite"
    flags = ["--journal", str(journal), *_flags(served)]
    assert cli("link", str(ids), "-q", *flags).code == 0
    resume = cli("link", str(ids), "--dry-run", "--json", *flags)
    assert resume.code == 0, resume.err
    assert json.loads(resume.out)["journal"]["done"] == 1
    # An unfinished run with other options blocks a new run without --run-id, as in the run.
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE ita_runs_v2 SET finished = NULL")
    refused = cli("link", str(ids), "--dry-run", "--batch-size", "7", *flags)
    assert refused.code == 2
    assert "unfinished link run" in refused.err
    before = journal.read_bytes()
    assert cli("link", str(_ids(tmp_path, 6)), "--dry-run", *flags).code == 2
    assert journal.read_bytes() == before  # a dry run never writes the journal


def test_transfers_create_dry_run_creates_no_task(cli: Cli, served: Served, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/r{i}/ tapis://b/r{i}/\n" for i in range(5)), "utf-8")
    tapis = ["--tapis-url", served.tapis_url, "--tapis-token", "tok"]
    before = served.operations()
    result = cli(
        "transfers", "create", str(pairs), "--per-task", "2", "--dry-run", "--json", *tapis
    )
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert (plan["tasks"], plan["elements"]) == (3, 5)
    assert _sent(served, before) == {"getRecentTransferTasks": 1}
    assert served.stats()["tapis_tasks"] == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("tapis://a/x\n", encoding="utf-8")
    assert cli("transfers", "create", str(bad), "--dry-run", *tapis).code == 2


def test_transfers_dry_run_with_a_journal_plans_the_resume(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/j{i}/ tapis://b/j{i}/\n" for i in range(3)), "utf-8")
    journal = tmp_path / "transfers.sqlite"
    argv = ["transfers", "create", str(pairs), "--journal", str(journal)]
    tapis = ["--tapis-url", served.tapis_url, "--tapis-token", "tok"]
    fresh = cli(*argv, "--dry-run", "--json", *tapis)
    assert fresh.code == 0, fresh.err
    assert json.loads(fresh.out)["journal"]["resumes"] is False
    assert not journal.exists()
    assert cli(*argv, "-q", *tapis).code == 0
    tasks = served.stats()["tapis_tasks"]
    resumed = cli(*argv, "--dry-run", "--json", *tapis)
    assert resumed.code == 0, resumed.err
    plan = json.loads(resumed.out)
    assert plan["journal"]["resumes"] is True
    assert (plan["journal"]["done"], plan["tasks_to_create"]) == (3, 0)
    assert served.stats()["tapis_tasks"] == tasks


async def test_the_stop_at_open_is_found_however_the_run_wraps_it() -> None:
    from ica_tapis_async.cli._dry_run_journal import StopAtOpen, stop_at_open

    async def wrapped(items: object) -> None:
        raise ExceptionGroup("run", [StopAtOpen()])

    async def mixed(items: object) -> None:
        raise ExceptionGroup("run", [StopAtOpen(), ValueError("bad")])

    async def sent(items: object) -> None:
        return None  # a run that got past opening its journal run would have sent

    await stop_at_open(wrapped, [], None, "")
    with pytest.raises(ExceptionGroup):
        await stop_at_open(mixed, [], None, "")
    with pytest.raises(RuntimeError, match="did not open"):
        await stop_at_open(sent, [], None, "")


def test_an_interrupted_dry_run_offers_no_resume(tmp_path: Path) -> None:
    from .shell import finish, interrupt, start

    with served_simulator("--latency", "2") as slow:  # the GET is under way at the Ctrl-C
        argv = ["link", str(_ids(tmp_path)), "--dry-run", "--journal", str(tmp_path / "j.sqlite")]
        process = start(*argv, "--base-url", slow.ica_url, "--api-key", "k", "--project", PROJECT)
        deadline = time.monotonic() + 30
        while not slow.operations().get("getDataTransfers") and time.monotonic() < deadline:
            time.sleep(0.05)
        interrupt(process)
        result = finish(process, timeout=60)
    assert result.code == 130
    assert "stopped cleanly" in result.err
    assert "resume" not in result.err
    assert not (tmp_path / "j.sqlite").exists()
