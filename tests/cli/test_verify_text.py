"""``verify``'s text report names only what a discrepancy has: a chunk the run never reached has
no batch, and the line must not say "batch None" (Python's word, not the operator's)."""

from __future__ import annotations

import argparse

import pytest

from ica_tapis_async.cli._verify import _print
from ica_tapis_async.orchestrator import VerifyReport
from ica_tapis_async.orchestrator._verify_report import Discrepancy


def test_a_discrepancy_without_batch_or_chunk_is_printed_without_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = VerifyReport(run_id="r1", kind="update", project_id="P", chunks=9)
    report.discrepancies += [
        Discrepancy(
            problem="unfinished",
            key=None,
            chunk=8,
            batch_id=None,
            journal=None,
            server=None,
            detail="never sent",
        ),
        Discrepancy(
            problem="not_in_journal",
            key="fil.1",
            chunk=None,
            batch_id="b-1",
            journal=None,
            server="UPDATED",
            detail="unknown item",
        ),
        Discrepancy(
            problem="status",
            key="fil.2",
            chunk=3,
            batch_id="b-2",
            journal="FAILED",
            server="UPDATED",
            detail="other status",
        ),
    ]
    _print(argparse.Namespace(json=False, journal="j.sqlite"), report)
    out = " ".join(capsys.readouterr().out.split())  # the console may wrap long lines
    assert "None" not in out
    assert "unfinished: chunk 8: never sent" in out
    assert "not_in_journal: fil.1, batch b-1: unknown item (server UPDATED)" in out
    assert "status: chunk 3 fil.2, batch b-2: other status (journal FAILED, server UPDATED)" in out
