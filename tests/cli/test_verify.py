"""``verify``: a recorded run re-read from a served simulator (another process, so the server
remembers between the run and the verification) and reconciled with its journal."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ica_tapis_async import IcaClient, ReqTransferElement, TapisClient, VerifyReport, verify_run

from .helpers import PROJECT, Cli
from .served import Served, served_simulator


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One served simulator for the module (each test uses its own journal)."""
    with served_simulator() as server:
        yield server


def _ica(served: Served) -> list[str]:
    return ["--base-url", served.ica_url, "--api-key", "k"]


def _link(cli: Cli, served: Served, tmp_path: Path, count: int = 25) -> tuple[Path, list[str]]:
    ids = [f"fil.{tmp_path.name[-8:].encode().hex()}{i:016x}" for i in range(count)]
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n", encoding="utf-8")
    journal = tmp_path / "run.sqlite"
    flags = [*_ica(served), "--project", PROJECT]
    result = cli("link", str(source), "--journal", str(journal), "--batch-size", "10", "-q", *flags)
    assert result.code == 0, result.err
    return journal, ids


def _verify(cli: Cli, served: Served, journal: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("verify", "--journal", str(journal), "--json", *_ica(served), *extra)
    assert result.out, result.err
    data: dict[str, Any] = json.loads(result.out)
    return result.code, data


def _gets_only(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    sent = {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)}
    assert sent
    assert all(op.startswith("get") for op in sent), sent
    return sent


def test_a_run_the_server_agrees_with_exits_0_and_sends_only_gets(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, ids = _link(cli, served, tmp_path)
    before = served.operations()
    code, data = _verify(cli, served, journal)
    assert code == 0
    assert data["ok"] is True
    assert data["discrepancies"] == []
    assert data["journal_counts"] == data["server_counts"] == {"LINKED": len(ids)}
    assert data["batches_read"] == data["chunks"] == 3
    assert _gets_only(before, served.operations()) == {"getProjectDataLinkingBatchItems": 3}
    text = cli("verify", "--journal", str(journal), *_ica(served))
    assert text.code == 0
    assert "server and journal agree on 25 items" in text.out


def test_a_tampered_journal_exits_1_with_every_discrepancy(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, ids = _link(cli, served, tmp_path)
    db = sqlite3.connect(journal)
    with db:
        # chunk 0: the journal says FAILED where the server linked the item
        db.execute("UPDATE ita_outcomes_v2 SET status='FAILED', ok=0 WHERE idx=0 AND pos=3")
        # chunk 1: an outcome lost from the journal
        db.execute("DELETE FROM ita_outcomes_v2 WHERE idx=1 AND pos=0")
        # chunk 2: an item the server's batch never held
        db.execute("UPDATE ita_outcomes_v2 SET key='fil.x:smile:' WHERE idx=2 AND pos=1")
    db.close()
    code, data = _verify(cli, served, journal)
    assert code == 1
    assert data["ok"] is False
    found = {(d["problem"], d["key"], d["chunk"], d["journal"], d["server"])
             for d in data["discrepancies"]}  # fmt: skip
    assert found == {
        ("status", ids[3], 0, "FAILED", "LINKED"),
        ("not_in_journal", ids[10], 1, None, "LINKED"),
        ("not_on_server", "fil.x:smile:", 2, "LINKED", None),
        ("not_in_journal", ids[21], 2, None, "LINKED"),
    }
    assert data["problems"] == {"status": 1, "not_on_server": 1, "not_in_journal": 2}
    text = cli("verify", "--journal", str(journal), *_ica(served))
    assert text.code == 1
    assert "4 discrepancies" in text.out
    assert ids[3] in text.out
    assert "fil.x:smile:" in text.out  # user text printed literally, not as an emoji


def test_an_id_recorded_in_another_batch_is_in_two_batches(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, ids = _link(cli, served, tmp_path)
    db = sqlite3.connect(journal)
    with db:  # the journal moves item 12 (sent in chunk 1) into chunk 0
        db.execute("UPDATE ita_outcomes_v2 SET idx=0, pos=99 WHERE idx=1 AND pos=2")
    db.close()
    code, data = _verify(cli, served, journal)
    assert code == 1
    problems = [(d["problem"], d["key"], d["chunk"]) for d in data["discrepancies"]]
    assert ("in_two_batches", ids[12], 1) in problems
    assert ("not_on_server", ids[12], 0) in problems


def test_a_server_that_never_saw_the_batches_disagrees(cli: Cli, tmp_path: Path) -> None:
    with served_simulator() as first:
        journal, _ = _link(cli, first, tmp_path, count=5)
    with served_simulator() as other:  # a fresh server: the recorded batch is unknown there
        code, data = _verify(cli, other, journal)
    assert code == 1
    assert [(d["problem"], d["chunk"]) for d in data["discrepancies"]] == [("batch_not_found", 0)]


def test_an_unfinished_chunk_is_reported(cli: Cli, served: Served, tmp_path: Path) -> None:
    journal, _ = _link(cli, served, tmp_path)
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE ita_chunks_v2 SET state='submitted' WHERE idx=2")
        db.execute("DELETE FROM ita_outcomes_v2 WHERE idx=2")
        # and one whose recorded batch the server does not know
        db.execute(
            "UPDATE ita_chunks_v2 SET state='submitted', batch_id=? WHERE idx=1",
            ("00000000-0000-4000-8000-000000000000",),
        )
        db.execute("DELETE FROM ita_outcomes_v2 WHERE idx=1")
    db.close()
    code, data = _verify(cli, served, journal)
    assert code == 1
    # Their batches are still read: what the server holds of them is in the report.
    assert [(d["problem"], d["chunk"], d["server"]) for d in data["discrepancies"]] == [
        ("unfinished", 1, None),
        ("unfinished", 2, "LINKED 5"),
    ]
    assert (data["batches_read"], data["server_counts"]) == (2, {"LINKED": 15})
    assert data["journal_counts"] == {"LINKED": 10}


def test_latest_run_by_default_and_bad_journal_or_run_exit_2(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, _ = _link(cli, served, tmp_path, count=3)
    second = [*_ica(served), "--project", PROJECT, "--journal", str(journal)]
    ids = tmp_path / "more.txt"
    ids.write_text("fil.00000000000000000000000000000abc\n", encoding="utf-8")
    newer = cli("link", str(ids), "--run-id", "second-run", "--json", *second)
    assert newer.code == 0, newer.err
    code, data = _verify(cli, served, journal)
    assert code == 0
    assert data["run_id"] == "second-run"
    assert data["items"] == 1
    missing = tmp_path / "nope.sqlite"
    result = cli("verify", "--journal", str(missing), *_ica(served))
    assert result.code == 2
    assert "no such file" in result.err
    assert not missing.exists()
    result = cli("verify", "--journal", str(journal), "--run-id", "other", *_ica(served))
    assert result.code == 2
    assert "no run 'other'" in result.err
    result = cli("verify", "--journal", str(journal), "--run-id", "second-run")
    assert result.code == 2
    assert "no ICA server" in result.err


def test_verify_is_paced_by_rate(cli: Cli, served: Served, tmp_path: Path) -> None:
    journal, _ = _link(cli, served, tmp_path)  # 3 batches: 3 item pages to read
    started = time.monotonic()
    code, _ = _verify(cli, served, journal, "--rate", "1")
    assert code == 0
    assert time.monotonic() - started >= 1.9  # a burst of 1, then one request a second


def test_a_transfer_run_is_verified_task_by_task(cli: Cli, served: Served, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/r{i}/ tapis://b/r{i}/\n" for i in range(3)), "utf-8")
    journal = tmp_path / "transfers.sqlite"
    tapis = ["--tapis-url", served.tapis_url, "--tapis-token", "tok"]
    created = cli("transfers", "create", str(pairs), "--journal", str(journal), "-q", *tapis)
    assert created.code == 0, created.err
    before = served.operations()
    result = cli("verify", "--journal", str(journal), "--json", *tapis)
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out)["server_counts"] == {"COMPLETED": 3}
    assert _gets_only(before, served.operations()) == {
        "getTransferTask": 3,
        "getRecentTransferTasks": 1,  # tasks created twice are looked for among the recent
    }
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE ita_outcomes_v2 SET status='FAILED', ok=0 WHERE idx=1")
        db.execute("UPDATE ita_outcomes_v2 SET key='not-its-tag' WHERE idx=2")
    db.close()
    result = cli("verify", "--journal", str(journal), "--json", *tapis)
    assert result.code == 1
    problems = json.loads(result.out)["discrepancies"]
    assert [(d["problem"], d["chunk"], d["journal"]) for d in problems] == [
        ("status", 1, "FAILED"),
        ("tag", 2, "not-its-tag"),
    ]
    assert problems[0]["server"] == "COMPLETED"
    assert problems[1]["server"].endswith("-000002")


def test_the_library_call_verifies_an_analyses_run(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "userReference,pipelineId,input:reads\n"
        + "".join(f"s{i},pipe-1,fil.{i:032x}\n" for i in range(1, 4)),
        encoding="utf-8",
    )
    journal = tmp_path / "analyses.sqlite"
    argv = ["analyses", str(sheet), "--journal", str(journal), "--project", PROJECT, "-q"]
    assert cli(*argv, *_ica(served)).code == 0
    with sqlite3.connect(journal) as db:
        run_id = db.execute("SELECT run_id FROM ita_runs_v2").fetchone()[0]

    async def check() -> VerifyReport:
        async with IcaClient(served.ica_url, api_key="k") as ica:
            return await verify_run(str(journal), run_id, ica=ica)

    report = asyncio.run(check())
    assert report.ok, report.discrepancies
    assert report.server_counts == {"SUCCEEDED": 3}
    with sqlite3.connect(journal) as db:
        db.execute("UPDATE ita_outcomes_v2 SET analysis_id='not-it' WHERE key='s2'")
    report = asyncio.run(check())
    assert [(d.problem, d.key, d.journal) for d in report.discrepancies] == [
        ("analysis", "s2", "not-it")
    ]


def test_a_file_that_is_not_a_journal_is_refused_untouched(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE samples (name TEXT)")
    db.close()
    before = other.read_bytes()
    result = cli("verify", "--journal", str(other), "--run-id", "r1", *_ica(served))
    assert result.code == 2
    assert "not a journal" in result.err
    assert other.read_bytes() == before
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    result = cli("verify", "--journal", str(empty), "--run-id", "r1", *_ica(served))
    assert result.code == 2
    assert "empty file" in result.err
    assert empty.stat().st_size == 0
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100, encoding="utf-8")
    result = cli("verify", "--journal", str(text), *_ica(served))
    assert result.code == 2
    assert "not a journal" in result.err


def test_an_update_run_with_a_failed_item_is_verified(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    ids = [f"fil.{i:032x}" for i in range(1, 6)]
    source = tmp_path / "ids.txt"
    source.write_text("\n".join([*ids, "fol.unknown-folder"]) + "\n", encoding="utf-8")
    journal = tmp_path / "update.sqlite"
    argv = ["update", str(source), "--add-tag", "qc", "--journal", str(journal), "--json"]
    result = cli(*argv, *_ica(served), "--project", PROJECT)
    counts = json.loads(result.out)["counts"]
    assert sum(counts.values()) == 6
    code, data = _verify(cli, served, journal)
    assert code == 0, data["discrepancies"]
    assert data["journal_counts"] == data["server_counts"] == counts


def test_items_never_sent_are_counted_not_read(cli: Cli, served: Served, tmp_path: Path) -> None:
    journal, _ = _link(cli, served, tmp_path)
    with sqlite3.connect(journal) as db:  # as if the server had refused chunk 2's create
        db.execute("UPDATE ita_chunks_v2 SET batch_id = NULL WHERE idx = 2")
        db.execute("UPDATE ita_outcomes_v2 SET status = 'REJECTED', ok = 0 WHERE idx = 2")
    before = served.operations()
    code, data = _verify(cli, served, journal)
    assert code == 0, data["discrepancies"]
    assert (data["batches_read"], data["never_sent"]) == (2, 5)
    assert data["journal_counts"] == {"LINKED": 20, "REJECTED": 5}
    assert _gets_only(before, served.operations()) == {"getProjectDataLinkingBatchItems": 2}
    text = cli("verify", "--journal", str(journal), *_ica(served))
    assert "items never sent" in text.out


def test_repeats_sent_once_and_again_agree(cli: Cli, served: Served, tmp_path: Path) -> None:
    ids = [f"fil.{i:032x}" for i in range(700, 704)]
    source = tmp_path / "ids.txt"
    # ids[0] twice in chunk 0 (sent once: DUPLICATE), and again in chunk 1 (ALREADY_LINKED)
    source.write_text("\n".join([ids[0], ids[1], ids[0], ids[2], ids[0]]) + "\n", "utf-8")
    journal = tmp_path / "run.sqlite"
    argv = ["link", str(source), "--journal", str(journal), "--batch-size", "3", "--json"]
    ran = cli(*argv, *_ica(served), "--project", PROJECT)
    assert json.loads(ran.out)["counts"]["DUPLICATE"] == 1
    code, data = _verify(cli, served, journal)
    assert code == 0, data["discrepancies"]
    assert data["journal_counts"]["DUPLICATE"] == 1
    assert "DUPLICATE" not in data["server_counts"]


def test_a_transfer_task_created_twice_is_in_two_batches(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/t{i}/ tapis://b/t{i}/\n" for i in range(2)), "utf-8")
    journal = tmp_path / "transfers.sqlite"
    tapis = ["--tapis-url", served.tapis_url, "--tapis-token", "tok"]
    argv = ["transfers", "create", str(pairs), "--journal", str(journal), "-q"]
    assert cli(*argv, *tapis).code == 0
    with sqlite3.connect(journal) as db:
        tag, uuid = db.execute("SELECT key, batch_id FROM ita_outcomes_v2 WHERE idx = 1").fetchone()

    async def create_again() -> str:  # as if a create whose answer was lost made a second one
        async with TapisClient(served.tapis_url, token="tok") as client:
            element = ReqTransferElement("tapis://a/t1/", "tapis://b/t1/")
            task = await client.transfers.create([element], tag=tag)
            assert task.uuid is not None
            return task.uuid

    again = asyncio.run(create_again())
    code, data = _verify(cli, served, journal, *tapis)
    assert code == 1
    found = [(d["problem"], d["chunk"], d["key"], d["journal"], d["server"])
             for d in data["discrepancies"]]  # fmt: skip
    assert found == [("in_two_batches", 1, tag, uuid, again)]
