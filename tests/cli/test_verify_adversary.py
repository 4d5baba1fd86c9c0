"""``verify`` attacked: journals that claim what the server never did, journals that are not
journals, and what verify must not write."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import PROJECT, Cli
from .served import Served, served_simulator


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One served simulator for the module (each test uses its own journal)."""
    with served_simulator() as server:
        yield server


def _ica(served: Served) -> list[str]:
    return ["--base-url", served.ica_url, "--api-key", "k"]


def _tapis(served: Served) -> list[str]:
    return ["--tapis-url", served.tapis_url, "--tapis-token", "tok"]


def _link(cli: Cli, served: Served, tmp_path: Path, count: int = 25) -> tuple[Path, list[str]]:
    ids = [f"fil.{tmp_path.name[-8:].encode().hex()}{i:016x}" for i in range(count)]
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n", encoding="utf-8")
    journal = tmp_path / "run.sqlite"
    flags = [*_ica(served), "--project", PROJECT]
    result = cli("link", str(source), "--journal", str(journal), "--batch-size", "10", "-q", *flags)
    assert result.code == 0, result.err
    return journal, ids


def _verify(cli: Cli, journal: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    result = cli("verify", "--journal", str(journal), "--json", *flags)
    assert result.out, result.err
    data: dict[str, Any] = json.loads(result.out)
    return result.code, data


def test_linked_items_of_a_chunk_with_no_batch_are_not_on_server(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, ids = _link(cli, served, tmp_path)
    with sqlite3.connect(journal) as db:  # the journal says LINKED, but records no batch
        db.execute("UPDATE ita_chunks_v2 SET batch_id = NULL WHERE idx = 2")
    db.close()
    code, data = _verify(cli, journal, *_ica(served))
    assert code == 1
    assert data["ok"] is False
    found = [(d["problem"], d["key"], d["journal"]) for d in data["discrepancies"]]
    assert found == [("not_on_server", key, "LINKED") for key in ids[20:]]


def test_a_transfer_task_the_journal_says_was_never_created_is_found(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/w{i}/ tapis://b/w{i}/\n" for i in range(2)), "utf-8")
    journal = tmp_path / "transfers.sqlite"
    argv = ["transfers", "create", str(pairs), "--journal", str(journal), "-q"]
    assert cli(*argv, *_tapis(served)).code == 0
    with sqlite3.connect(journal) as db:  # the create's answer "lost": no uuid recorded
        uuid = db.execute("SELECT batch_id FROM ita_chunks_v2 WHERE idx = 1").fetchone()[0]
        db.execute("UPDATE ita_chunks_v2 SET batch_id = NULL WHERE idx = 1")
        db.execute("UPDATE ita_outcomes_v2 SET status = 'NOT_CREATED', ok = 0 WHERE idx = 1")
    db.close()
    code, data = _verify(cli, journal, *_tapis(served))
    assert code == 1
    assert [(d["problem"], d["chunk"], d["server"]) for d in data["discrepancies"]] == [
        ("not_in_journal", 1, uuid)
    ]
    with sqlite3.connect(journal) as db:  # and one that claims COMPLETED without a task
        db.execute("UPDATE ita_outcomes_v2 SET status = 'COMPLETED', ok = 1 WHERE idx = 1")
    db.close()
    code, data = _verify(cli, journal, *_tapis(served))
    assert code == 1
    assert {d["problem"] for d in data["discrepancies"]} == {"not_on_server", "not_in_journal"}


def test_a_sqlite_file_without_a_journal_s_tables_is_left_as_it_is(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    for name, sql in (("bare.sqlite", "PRAGMA user_version = 7"),
                      ("old.sqlite", "CREATE TABLE runs (run_id TEXT)")):  # fmt: skip
        other = tmp_path / name
        with sqlite3.connect(other) as db:
            db.execute(sql)
        db.close()
        before = other.read_bytes()
        result = cli("verify", "--journal", str(other), "--run-id", "r1", *_ica(served))
        assert result.code == 2
        assert "not a journal of this tool" in result.err
        assert other.read_bytes() == before  # no tables created, not switched to WAL


def test_an_outcome_the_journal_records_twice_is_repeated(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, ids = _link(cli, served, tmp_path, count=20)
    with sqlite3.connect(journal) as db:  # one outcome row copied: 21 LINKED for 20 items
        columns = [row[1] for row in db.execute("PRAGMA table_info(ita_outcomes_v2)")]
        copied = ", ".join("pos + 500" if c == "pos" else c for c in columns)
        db.execute(f"INSERT INTO ita_outcomes_v2 SELECT {copied} FROM ita_outcomes_v2 "
                   "WHERE idx = 0 AND pos = 0")  # fmt: skip
    db.close()
    code, data = _verify(cli, journal, *_ica(served))
    assert code == 1
    assert data["journal_counts"] == {"LINKED": 21}
    assert [(d["problem"], d["key"], d["journal"]) for d in data["discrepancies"]] == [
        ("repeated", ids[0], "LINKED, LINKED")
    ]


def test_a_transfer_task_whose_outcome_the_journal_lost_is_not_in_journal(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/v{i}/ tapis://b/v{i}/\n" for i in range(2)), "utf-8")
    journal = tmp_path / "transfers.sqlite"
    argv = ["transfers", "create", str(pairs), "--journal", str(journal), "-q"]
    assert cli(*argv, *_tapis(served)).code == 0
    with sqlite3.connect(journal) as db:  # the chunk is done, its outcome is gone
        db.execute("DELETE FROM ita_outcomes_v2 WHERE idx = 1")
    db.close()
    code, data = _verify(cli, journal, *_tapis(served))
    assert code == 1
    assert [(d["problem"], d["chunk"], d["server"]) for d in data["discrepancies"]] == [
        ("not_in_journal", 1, "COMPLETED")
    ]


def test_a_chunk_the_journal_lost_is_unfinished(cli: Cli, served: Served, tmp_path: Path) -> None:
    journal, _ = _link(cli, served, tmp_path)
    with sqlite3.connect(journal) as db:  # chunk 1's entry and outcomes are gone
        db.execute("DELETE FROM ita_chunks_v2 WHERE idx = 1")
        db.execute("DELETE FROM ita_outcomes_v2 WHERE idx = 1")
    db.close()
    code, data = _verify(cli, journal, *_ica(served))
    assert code == 1
    assert [(d["problem"], d["chunk"]) for d in data["discrepancies"]] == [("unfinished", 1)]


def test_a_run_interrupted_before_its_input_ended_is_unfinished(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, _ = _link(cli, served, tmp_path)
    with sqlite3.connect(journal) as db:  # as if stopped after chunk 1: chunk 2 never claimed
        db.execute("UPDATE ita_runs_v2 SET finished = NULL")
        db.execute("DELETE FROM ita_chunks_v2 WHERE idx >= 2")
        db.execute("DELETE FROM ita_outcomes_v2 WHERE idx >= 2")
    db.close()
    code, data = _verify(cli, journal, *_ica(served))
    assert code == 1
    assert [(d["problem"], d["chunk"]) for d in data["discrepancies"]] == [("unfinished", 2)]
    text = cli("verify", "--journal", str(journal), *_ica(served))
    assert "end of the run's input is not recorded" in text.out


def test_the_library_call_creates_no_journal(served: Served, tmp_path: Path) -> None:
    import asyncio

    from ica_tapis_async import IcaClient, RequestValidationError, verify_run

    typo = tmp_path / "typo.sqlite"

    async def check() -> None:
        async with IcaClient(served.ica_url, api_key="k") as ica:
            await verify_run(typo, "r1", ica=ica)

    with pytest.raises(RequestValidationError, match="no such file"):
        asyncio.run(check())
    assert not typo.exists()


def test_a_run_of_a_kind_no_release_records_is_refused(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    journal, _ = _link(cli, served, tmp_path, count=5)
    with sqlite3.connect(journal) as db:  # damaged: its batches would be read as analyses
        db.execute("UPDATE ita_runs_v2 SET kind = 'bogus'")
    db.close()
    before = served.operations()
    result = cli("verify", "--journal", str(journal), *_ica(served))
    assert result.code == 2
    assert "of kind 'bogus'" in result.err
    assert served.operations() == before


def test_a_tag_prefix_reused_by_an_earlier_run_is_not_created_twice(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/n{i}/ tapis://b/n{i}/\n" for i in range(2)), "utf-8")
    tag = f"nightly{tmp_path.name[-6:]}"
    nights = [tmp_path / "night1.sqlite", tmp_path / "night2.sqlite"]
    for journal in nights:  # the same --tag every night, one journal a night
        argv = ["transfers", "create", str(pairs), "--tag", tag, "--journal", str(journal), "-q"]
        assert cli(*argv, *_tapis(served)).code == 0
    with sqlite3.connect(nights[1]) as db:  # the second night, a day later
        db.execute("UPDATE ita_runs_v2 SET started = started + 86400")
    db.close()
    code, data = _verify(cli, nights[1], *_tapis(served))
    assert code == 0, data["discrepancies"]
    with sqlite3.connect(nights[1]) as db:  # a task of this run's, created twice, still is
        db.execute("UPDATE ita_runs_v2 SET started = started - 86400")
    db.close()
    code, data = _verify(cli, nights[1], *_tapis(served))
    assert code == 1
    assert {d["problem"] for d in data["discrepancies"]} == {"in_two_batches"}


def test_an_analysis_the_journal_does_not_record_is_found(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "userReference,pipelineId,input:reads\n"
        + "".join(f"a{i},pipe-1,fil.{i:032x}\n" for i in range(1, 4)),
        encoding="utf-8",
    )
    journal = tmp_path / "analyses.sqlite"
    argv = ["analyses", str(sheet), "--journal", str(journal), "--project", PROJECT, "-q"]
    assert cli(*argv, *_ica(served)).code == 0
    with sqlite3.connect(journal) as db:  # the journal lost the id of the analysis created
        db.execute("UPDATE ita_outcomes_v2 SET analysis_id = NULL WHERE key = 'a2'")
    db.close()
    code, data = _verify(cli, journal, *_ica(served))
    assert code == 1
    found = [(d["problem"], d["key"], d["journal"]) for d in data["discrepancies"]]
    assert found == [("analysis", "a2", None)]
    assert data["discrepancies"][0]["server"]


def test_every_kind_is_verified_with_gets_only(cli: Cli, served: Served, tmp_path: Path) -> None:
    ids = [f"fil.{i:032x}" for i in range(900, 906)]
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n", encoding="utf-8")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "userReference,pipelineId,input:reads\n"
        + "".join(f"g{i},pipe-1,{data_id}\n" for i, data_id in enumerate(ids)),
        encoding="utf-8",
    )
    runs = {
        "update": ["update", str(source), "--add-tag", "qc"],
        "analyses": ["analyses", str(sheet)],
    }
    for name, argv in runs.items():
        journal = tmp_path / f"{name}.sqlite"
        flags = ["--journal", str(journal), "--batch-size", "4", "--project", PROJECT, "-q"]
        assert cli(*argv, *flags, *_ica(served)).code == 0
        with sqlite3.connect(journal) as db:  # and a discrepancy, so every path is taken
            db.execute("UPDATE ita_outcomes_v2 SET status = 'FAILED', ok = 0 WHERE idx = 1")
        db.close()
        before = served.operations()
        code, data = _verify(cli, journal, *_ica(served))
        assert code == 1
        assert data["batches_read"] == 2
        after = served.operations()
        sent = {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}
        assert sent
        assert all(op.startswith("get") for op in sent), sent


def test_a_transfer_cancelled_before_its_creation_agrees(
    cli: Cli, served: Served, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"tapis://a/c{i}/ tapis://b/c{i}/\n" for i in range(2)), "utf-8")
    journal = tmp_path / "transfers.sqlite"
    argv = ["transfers", "create", str(pairs), "--journal", str(journal), "-q"]
    assert cli(*argv, *_tapis(served)).code == 0
    with sqlite3.connect(journal) as db:  # as the orchestrator records a request it never sent
        db.execute("UPDATE ita_chunks_v2 SET batch_id = NULL, key = 'never-sent' WHERE idx = 1")
        db.execute("UPDATE ita_outcomes_v2 SET status = 'CANCELLED', ok = 0, key = 'never-sent', "
                   "batch_id = NULL, info = 'cancelled before creation' WHERE idx = 1")  # fmt: skip
    db.close()
    code, data = _verify(cli, journal, *_tapis(served))
    assert code == 0, data["discrepancies"]
    assert data["never_sent"] == 1
