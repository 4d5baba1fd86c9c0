"""``transfers``: abort's timeout and usage, the uuids an interrupted ``create`` made."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT
from .shell import finish, interrupt, run, start, wait_until


def test_abort_wait_timeout_says_so_and_exits_1(sim: Simulator) -> None:
    """``abort --wait --timeout`` that runs out names the transfers still not final; exit 1."""
    # Aborts take a simulated minute to complete: the wait runs out first.
    sim.configure(step_s=60.0, transfer_duration_s=600.0)
    flags = ["--base-url", sim.ica_url, "--api-key", "k", "--project", PROJECT]
    listed = run("transfers", "list", "--status", "ONGOING", "--json", *flags)
    assert listed.code == 0, listed.err
    ongoing = [t["id"] for t in json.loads(listed.out)][:2]
    assert len(ongoing) == 2
    result = run("transfers", "abort", *ongoing, "--wait", "--timeout", "0.5", *flags)
    assert result.code == 1
    assert result.err_lines == [
        "error: gave up waiting after 0.5 s (--timeout): 2 transfers not final yet: "
        + ", ".join(ongoing)
    ]
    rows = [line for line in result.out.splitlines() if "timed out" in line]
    assert len(rows) == 2
    assert all("ABORTREQUESTED" in row for row in rows)


async def _tasks_tagged(sim: Simulator, prefix: str) -> dict[str, str]:
    async with ita.TapisClient(sim.tapis_url, token="tok") as tapis:
        return {
            t.tag: t.uuid
            async for t in tapis.transfers.list_recent(page_size=1000)
            if t.tag and t.tag.startswith(prefix) and t.uuid
        }


def test_interrupted_create_prints_the_uuids_it_made(sim: Simulator, tmp_path: Path) -> None:
    """Ctrl-C during ``transfers create`` lists every task it created, by tag and uuid."""
    sim.configure(tapis_step_s=30.0)  # tasks stay running: the interruption finds them so
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "".join(f"tapis://a/run{i}/ tapis://b/run{i}/\n" for i in range(12)), encoding="utf-8"
    )
    process = start(
        "transfers",
        "create",
        str(pairs),
        "--tag",
        "t14",
        "--max-tasks",
        "4",
        "-q",
        "--tapis-url",
        sim.base_url,
        "--tapis-token",
        "tok",
    )
    wait_until(lambda: sim.stats.tapis_tasks >= 4)
    interrupt(process)
    result = finish(process)
    assert result.code == 130, result.err
    created = asyncio.run(_tasks_tagged(sim, "t14-"))
    assert len(created) == 4
    lines = result.err_lines
    head = lines.index(
        "4 transfer tasks had been created (tags t14-*); they keep running on the server: "
        "cancel them by uuid if need be"
    )
    listed = lines[head + 1 : head + 5]
    assert listed == [f"  {tag} {uuid}" for tag, uuid in sorted(created.items())]
    assert all(re.fullmatch(r"  t14-\d{6} \S+", line) for line in listed)


def test_create_with_journal_resumes_without_creating_twice(sim: Simulator, tmp_path: Path) -> None:
    """Interrupted ``create --journal``, run again: every task once, the created ones followed."""
    sim.configure(tapis_step_s=0.5)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "".join(f"tapis://a/run{i}/ tapis://b/run{i}/\n" for i in range(10)), encoding="utf-8"
    )
    journal = tmp_path / "transfers.sqlite"
    argv = [
        "transfers", "create", str(pairs), "--journal", str(journal), "--max-tasks", "3",
        "--tapis-url", sim.base_url, "--tapis-token", "tok", "-q",
    ]  # fmt: skip
    process = start(*argv)
    wait_until(lambda: sim.stats.tapis_tasks >= 3)
    interrupt(process)
    stopped = finish(process)
    assert stopped.code == 130, stopped.err
    made = sim.stats.tapis_tasks
    assert 3 <= made < 10
    lines = stopped.err_lines
    head = next(i for i, line in enumerate(lines) if "transfer tasks had been created" in line)
    assert re.fullmatch(
        rf"{made} transfer tasks had been created \(tags ita-\w+-\*\); they keep running on the "
        r"server: cancel them by uuid if need be",
        lines[head],
    ), lines[head]
    assert len([line for line in lines[head + 1 :] if re.fullmatch(r"  ita-\S+ \S+", line)]) == made

    resumed = run(*argv[:-1], "--json")
    assert resumed.code == 0, resumed.err
    report = json.loads(resumed.out)
    assert report["counts"] == {"COMPLETED": 10}
    assert sim.stats.tapis_tasks == 10  # the interrupted run's tasks were not created again
    assert len({task["uuid"] for task in report["tasks"]}) == 10


def test_interrupted_create_with_a_journal_prints_its_run_id(
    sim: Simulator, tmp_path: Path
) -> None:
    """With --journal, the interrupted run is named (its tasks are tagged after it)."""
    sim.configure(tapis_step_s=30.0)
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "".join(f"tapis://a/r{i}/ tapis://b/r{i}/\n" for i in range(8)), encoding="utf-8"
    )
    argv = ["transfers", "create", str(pairs), "--journal", str(tmp_path / "t.sqlite")]
    process = start(*argv, "--max-tasks", "2", "-q", "--tapis-url", sim.base_url,
                    "--tapis-token", "tok")  # fmt: skip
    wait_until(lambda: sim.stats.tapis_tasks >= 2)
    interrupt(process)
    result = finish(process)
    assert result.code == 130, result.err
    match = re.search(r"^Run id: ([0-9a-f]+)$", result.err, re.MULTILINE)
    assert match, result.err
    assert f"tags ita-{match.group(1)}-*" in result.err
