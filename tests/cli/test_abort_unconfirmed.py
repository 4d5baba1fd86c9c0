"""``transfers abort`` when one abort is answered by a page instead of ICA's 204.

Adversarial review of issue 20, point 5: a 2xx HTML page to an abort is no confirmation and
now raises ``ResponseValidationError``. The command must report that transfer as an error and
still abort (and report) the others, not die with the exception.
"""

from __future__ import annotations

import argparse
import json

import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli._transfers import _transfers_abort

from ..resources.helpers import ICA, PROJECT, data_transfer
from ..unit.fakes import FakeTransport

FIRST = "3f1e8d0a-0000-4000-8000-0000000000d1"
SECOND = "3f1e8d0a-0000-4000-8000-0000000000d2"
TRANSFERS = f"{ICA}/api/projects/{PROJECT}/dataTransfers"


async def test_an_abort_answered_by_a_page_is_an_error_row_and_the_others_go_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """FIRST's abort gets a proxy's HTML page (200): an error row; SECOND is aborted; exit 1."""
    http = FakeTransport()
    page = {"body": "<html>Welcome</html>", "headers": {"Content-Type": "text/html"}}
    http.post(f"{TRANSFERS}/{FIRST}:abort", status=200, **page)
    http.post(f"{TRANSFERS}/{SECOND}:abort", status=204)
    http.get(f"{TRANSFERS}/{SECOND}", payload=data_transfer(SECOND, "ABORTREQUESTED"))
    args = argparse.Namespace(
        ids=[FIRST, SECOND], status=None, direction=None, json=True, wait=False, timeout=5.0
    )
    policy = ita.RetryPolicy(max_attempts=1)
    async with ita.IcaClient(ICA, api_key="k", transport=http, retry=policy) as ica:
        code = await _transfers_abort(args, ica, PROJECT, 1)
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert code == 1
    assert rows[FIRST]["result"] == "error"
    assert "text/html" in rows[FIRST]["error"]
    assert rows[SECOND]["result"] == "abort requested"
