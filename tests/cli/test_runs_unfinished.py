"""``runs`` says "running" only for a run some worker holds leases of: a run stopped by Ctrl-C,
SIGTERM, ``--max-runtime`` or an unreachable server has no finish time and no worker, and an
operator reading "running" would wait for it instead of resuming it."""

from __future__ import annotations

from typing import Any

import pytest

from ica_tapis_async.cli._journal_tools import _print_runs


def _row(run_id: str, workers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"run_id": run_id, "kind": "update", "started_at": 1796693211.0,
            "finished_at": None, "items": {}, "workers": workers}  # fmt: skip


def test_an_unfinished_run_without_workers_is_not_called_running(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # one line per run
    _print_runs(
        [_row("stopped-1", []), _row("busy-2", [{"worker": "w1", "leases": 2}])], "j.sqlite"
    )
    lines = capsys.readouterr().out.splitlines()
    (stopped,) = [line for line in lines if "stopped-1" in line]
    (busy,) = [line for line in lines if "busy-2" in line]
    assert "running" not in stopped
    assert "unfinished" in stopped
    assert "running" in busy
