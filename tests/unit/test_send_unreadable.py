"""Sender: a create the server accepted (2xx) whose answer cannot be read is a lost answer:
the batch exists, so its items are IN_DOUBT and the chunk resubmitted, never an exception
that ends the run without a report."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import anyio

import ica_tapis_async as ita
from ica_tapis_async.orchestrator._send import Sender

from ..resources.helpers import BATCH, ICA, PROJECT, batch
from .fakes import FakeTransport


async def test_an_accepted_create_with_an_unreadable_answer_is_in_doubt() -> None:
    http = FakeTransport()
    http.add("POST", f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch", status=201, payload={})
    chunk = SimpleNamespace(body=SimpleNamespace(items=[SimpleNamespace(data_id="fil.a")]))
    chunk.keys = ["fil.a"]
    async with ita.IcaClient(
        ICA, api_key="k", retry=ita.RetryPolicy.no_wait(), transport=http
    ) as ica:
        sender = Sender(ica, PROJECT, 10, 0.01, 0.01, 1.0, anyio.sleep, time.monotonic)
        result = await sender.send("link", chunk, "key-1", first_use=True)  # type: ignore[arg-type]
    assert result.batch_id is None
    assert result.lost
    assert result.status == "IN_DOUBT"
    assert "could not be read" in (result.info or "")
    assert not result.final


async def test_a_batch_whose_items_cannot_be_read_is_unknown_and_the_run_reports() -> None:
    """Polling answers that cannot be read leave the items UNKNOWN (the chunk stays
    submitted, a re-run looks again); the run returns its report instead of raising."""
    http = FakeTransport()
    http.add("POST", f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch", status=201, payload=batch())
    http.add("GET", re.compile(r".*/items.*"), payload={"items": 5}, repeat=True)
    async with ita.IcaClient(
        ICA, api_key="k", retry=ita.RetryPolicy.no_wait(), transport=http
    ) as ica:
        orch = ita.BatchOrchestrator(ica, PROJECT, poll_initial=0.01, poll_max=0.01)
        with anyio.fail_after(10):
            report = await orch.link(["fil.a"])
    assert report.counts == {"UNKNOWN": 1}
    assert BATCH in (report.failures[0].info or "")
