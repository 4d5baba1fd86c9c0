"""A run that fails because the server cannot be reached is a failed run: with a journal it
prints its run id (issue 22 point 3), for ``status``, ``export`` and the rerun that settles it,
like any other failed or interrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers import free_port

from .helpers import Cli, write


@pytest.mark.parametrize("run_id", ["night-1", None])
def test_an_unreachable_server_ends_the_run_with_its_run_id(
    cli: Cli, tmp_path: Path, run_id: str | None
) -> None:
    path = write(tmp_path, "ids.txt", "fil.00000000000000000000000000000001\n")
    journal = str(tmp_path / "j.sqlite")
    named = ["--run-id", run_id] if run_id else []
    result = cli("link", path, "--journal", journal, "-q", *named,
                 "--base-url", f"http://127.0.0.1:{free_port()}/ica/rest", "--api-key", "k",
                 "--project", "P", "--unreachable-after", "0.3")  # fmt: skip
    assert result.code == 1, result.err
    assert "cannot reach" in result.err
    runs = cli("runs", "--journal", journal, "--json")
    (recorded,) = json.loads(runs.out)
    assert recorded["run_id"] == (run_id or recorded["run_id"])
    assert f"Run id: {recorded['run_id']}\n" in result.err


def test_an_unreachable_tapis_server_ends_the_transfer_run_with_its_run_id(
    cli: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path, "pairs.txt", "tapis://a/x tapis://b/x\n")
    journal = str(tmp_path / "j.sqlite")
    result = cli("transfers", "create", path, "--journal", journal, "-q", "--tag", "t7",
                 "--tapis-url", f"http://127.0.0.1:{free_port()}", "--tapis-token", "t",
                 "--unreachable-after", "0.3")  # fmt: skip
    assert result.code == 1, result.err
    assert "cannot reach" in result.err
    (recorded,) = json.loads(cli("runs", "--journal", journal, "--json").out)
    assert f"Run id: {recorded['run_id']}\n" in result.err
