"""A whole run against the simulator with faults: span tree, attributes, metrics, no secrets."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan

import ica_tapis_async as ita
from ica_tapis_async._telemetry import configure_logging
from ica_tapis_async.simulator import Simulator

from .helpers import Otel

PROJECT = "3f1e8d0a-0000-4000-8000-00000000e001"
API_KEY = "ak-very-secret-0123456789"
TAPIS_TOKEN = "tapis-secret-token-9876543210"
RETRY = ita.RetryPolicy(max_attempts=10, total_timeout=60, initial_backoff=0.01, max_backoff=0.05)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every library log record, DEBUG and up, as JSON lines in memory."""
    root = logging.getLogger("ica_tapis_async")
    saved = (list(root.handlers), root.level, root.propagate)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    yield stream
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_faulty_run_is_one_trace_of_run_chunks_and_calls(
    otel: Otel, json_logs: io.StringIO
) -> None:
    """Run -> chunk -> request spans, retry events for the 503s, metrics equal the counters."""
    async with (
        Simulator(seed=5, p_503=0.15, api_keys={API_KEY}) as sim,
        ita.IcaClient(
            sim.ica_url,
            api_key=API_KEY,
            exchange_api_key=True,
            retry=RETRY,
            telemetry=otel.telemetry,
        ) as ica,
    ):
        orch = ita.BatchOrchestrator(
            ica, PROJECT, batch_size=40, poll_initial=0.02, poll_max=0.1, run_id="run-obs"
        )
        report = await orch.link([f"fil.o{i:03d}" for i in range(120)])
        metrics = ica.metrics
        port = sim.port
    assert report.ok
    assert report.total == 120
    assert sim.stats.faults.get("503", 0) > 0

    run = otel.span("orchestrator.link")
    run_attrs = _attrs(run)
    assert run_attrs["ica_tapis.run.id"] == "run-obs"
    assert run_attrs["ica_tapis.run.kind"] == "link"
    assert sum(v for k, v in run_attrs.items() if k.startswith("ica_tapis.items.")) == 120

    chunks = [s for s in otel.spans() if s.name == "orchestrator.link.chunk"]
    assert sorted(_attrs(s)["ica_tapis.chunk.index"] for s in chunks) == [0, 1, 2]
    assert all(_parent_id(s) == _id(run) for s in chunks)
    batch_ids = {_attrs(s)["ica_tapis.batch.id"] for s in chunks}
    assert len(batch_ids) == 3
    for chunk in chunks:
        attributes = _attrs(chunk)
        assert attributes["ica_tapis.chunk.items"] == 40
        assert sum(v for k, v in attributes.items() if k.startswith("ica_tapis.items.")) == 40
        assert [e.name for e in chunk.events] == ["submitted"]

    # Every request made for a chunk hangs under it: create first, polls after.
    chunk_ids = {_id(s) for s in chunks}
    creates = [s for s in otel.spans() if s.name == "ica.data_linking_batches.create"]
    polls = [s for s in otel.spans() if s.name == "ica.data_linking_batches.list_items"]
    assert len(creates) == 3
    assert polls
    assert all(_parent_id(s) in chunk_ids for s in [*creates, *polls])
    assert len({s.context.trace_id for s in otel.spans() if s.context}) == 1
    for create in creates:
        attributes = dict(create.attributes or {})
        assert attributes["http.request.method"] == "POST"
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["server.port"] == port
        assert attributes["http.response.status_code"] == 201

    # The API key was exchanged for a JWT inside the first call that needed one.
    exchange = otel.span("ica.tokens.create")
    assert _parent_id(exchange) in {_id(s) for s in otel.spans() if s.name.startswith("ica.data")}

    retried = [e for s in otel.spans() for e in s.events if e.name == "retry"]
    assert retried
    assert {dict(e.attributes or {})["ica_tapis.retry.reason"] for e in retried} == {"503"}
    assert len(retried) == metrics.retries
    assert otel.value("ica_tapis.client.requests") == metrics.requests
    assert otel.value("ica_tapis.client.retries", error__type="503") == metrics.retries
    assert otel.count("http.client.request.duration") == metrics.requests
    assert otel.count("http.client.request.duration", error__type="503") == metrics.retries
    assert otel.value("http.client.active_requests") == 0
    assert otel.value("ica_tapis.orchestrator.chunks", ica_tapis__chunk__state="submitted") == 3
    assert otel.value("ica_tapis.orchestrator.chunks", ica_tapis__chunk__state="done") == 3
    assert otel.value("ica_tapis.orchestrator.items") == 120
    for status, count in report.counts.items():
        assert otel.value("ica_tapis.orchestrator.items", ica_tapis__item__status=status) == count

    lines = [orjson.loads(line) for line in json_logs.getvalue().splitlines()]
    submitted = [e for e in lines if e["message"].startswith("chunk ") and "batch_id" in e]
    assert {e["batch_id"] for e in submitted} == batch_ids
    assert all(e["run_id"] == "run-obs" and "trace_id" in e for e in submitted)
    assert any(e.get("reason") == "503" and e["logger"] == "ica_tapis_async" for e in lines)


async def test_no_secret_reaches_spans_metrics_or_logs(otel: Otel, json_logs: io.StringIO) -> None:
    """Export every span, metric and log line of ICA and Tapis work; no credential is in them."""
    async with (
        Simulator(seed=3, p_503=0.2, api_keys={API_KEY}, tapis_tokens={TAPIS_TOKEN}) as sim,
        ita.IcaClient(
            sim.ica_url,
            api_key=API_KEY,
            exchange_api_key=True,
            retry=RETRY,
            telemetry=otel.telemetry,
        ) as ica,
        ita.TapisClient(
            sim.tapis_url, token=TAPIS_TOKEN, retry=RETRY, telemetry=otel.telemetry
        ) as tapis,
    ):
        orch = ita.BatchOrchestrator(ica, PROJECT, batch_size=10, poll_initial=0.02, poll_max=0.1)
        await orch.link([f"fil.s{i}" for i in range(20)])
        task = await tapis.transfers.create(
            [ita.ReqTransferElement("tapis://sys/a", "tapis://sys/b")]
        )
        assert task.uuid is not None
        await tapis.transfers.get(task.uuid)
        jwt = await ica._dispatcher.auth.headers()  # the bearer token the client holds now
        with pytest.raises(ita.AuthenticationError):
            async with ita.IcaClient(
                sim.ica_url, api_key="ak-wrong-key-555", retry=RETRY, telemetry=otel.telemetry
            ) as wrong:
                await wrong.data_linking_batches.get(PROJECT, "b-1")
    token = jwt["Authorization"].removeprefix("Bearer ")
    assert token.startswith("eyJ")
    exported = "\n".join(
        [
            *(s.to_json() for s in otel.spans()),
            otel.reader.get_metrics_data().to_json(),  # type: ignore[union-attr]
            json_logs.getvalue(),
        ]
    )
    assert "ica.transfers" not in exported  # sanity: Tapis spans are named tapis.*
    assert "tapis.transfers.create" in exported
    assert "ica.tokens.create" in exported
    for secret in (API_KEY, TAPIS_TOKEN, token, "ak-wrong-key-555"):
        assert secret not in exported
