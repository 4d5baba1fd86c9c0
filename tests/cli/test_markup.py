"""Names that look like rich markup (run ids, server statuses, project ids) print as written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console

import ica_tapis_async as ita
from ica_tapis_async.cli import main
from ica_tapis_async.cli._output import batch_table
from ica_tapis_async.orchestrator import BatchReport, ItemOutcome

RUN_ID = "night[/]ly[red]"


def _text(renderable: object) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_report_table_shows_run_ids_and_statuses_as_written() -> None:
    report = BatchReport(run_id=RUN_ID, kind="link")
    report.add(ItemOutcome(key="fil.1", status="[bold]NEW_STATUS", ok=False, kind="link"))
    text = _text(batch_table(report, "link"))
    assert RUN_ID in text
    assert "[bold]NEW_STATUS" in text


def test_status_of_a_run_whose_id_looks_like_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "j.sqlite")

    async def populate() -> None:
        journal = ita.SqliteJournal(path)
        try:
            await journal.open_run("link", "proj", RUN_ID, "fp")
        finally:
            await journal.aclose()

    asyncio.run(populate())
    code = main(["status", "--journal", path, "--run-id", RUN_ID])
    out = capsys.readouterr().out
    assert code == 0
    assert f"run {RUN_ID}: link, unfinished" in out
