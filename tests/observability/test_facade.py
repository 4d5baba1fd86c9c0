"""The Telemetry facade against the OpenTelemetry SDK's in-memory exporter and reader."""

from __future__ import annotations

import contextvars
import time

import attrs
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from ica_tapis_async._telemetry import LiveStats, MetricDef, MetricsRegistry, Telemetry
from ica_tapis_async._telemetry._calls import NoopCall

from .helpers import Otel

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlX2J5dGVz"


@attrs.define
class FakeRequest:
    """The two fields telemetry reads from a request."""

    method: str = "POST"
    operation: str = "createProjectDataLinkingBatch"


class FakeLimiter:
    """Anything with a ``rate``."""

    rate: float | None = 7.5


def test_nothing_listening_means_a_shared_no_op_call() -> None:
    """Without an SDK provider, registry or live view, a call gets the no-op scope."""
    assert isinstance(Telemetry(otel=False).call("ica", FakeRequest(), "h", 1), NoopCall)
    # The API is installed but no SDK provider was set globally: still nothing is made.
    assert isinstance(Telemetry().call("ica", FakeRequest(), "h", 1), NoopCall)
    assert Telemetry().tracer() is None
    assert isinstance(Telemetry.default().call("ica", FakeRequest(), "h", 1), NoopCall)


def test_a_retried_call_is_one_span_with_retry_events(otel: Otel) -> None:
    """Two attempts (503 then 201) make one CLIENT span, a retry event and two durations; the
    second attempt waited for the limiter, and the span shows how long."""
    with otel.telemetry.call("ica", FakeRequest(), "ica.example", 443) as call:
        with call.attempt(call.waiting()) as attempt:
            attempt.answered(503)
        call.throttled(503)
        call.retry(1, 0.25, "503")
        since = call.waiting()
        time.sleep(0.002)  # held back by the limiter
        with call.attempt(since) as attempt:
            attempt.answered(201)
    span = otel.span("ica.data_linking_batches.create")
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["http.request.method"] == "POST"
    assert attributes["server.address"] == "ica.example"
    assert attributes["server.port"] == 443
    assert attributes["http.response.status_code"] == 201
    assert attributes["ica_tapis.attempts"] == 2
    assert attributes["http.request.resend_count"] == 1
    wait_s = attributes["ica_tapis.limiter.wait_s"]
    assert isinstance(wait_s, float)
    assert wait_s >= 0.002
    assert "error.type" not in attributes
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert events == [
        ("throttled", {"http.response.status_code": 503}),
        (
            "retry",
            {
                "ica_tapis.retry.attempt": 1,
                "ica_tapis.retry.wait_s": 0.25,
                "ica_tapis.retry.reason": "503",
            },
        ),
    ]
    assert otel.value("ica_tapis.client.requests", ica_tapis__api="ica") == 2
    assert otel.value("ica_tapis.client.retries", error__type="503") == 1
    assert otel.value("ica_tapis.client.throttled", http__response__status_code=503) == 1
    assert otel.value("http.client.active_requests") == 0
    assert otel.count("http.client.request.duration", http__response__status_code=503) == 1
    assert otel.count("http.client.request.duration", error__type="503") == 1
    assert otel.count("http.client.request.duration", http__response__status_code=201) == 1
    assert [dict(p.attributes or {}) for p in otel.points("ica_tapis.limiter.wait.time")] == [
        {"ica_tapis.api": "ica", "server.address": "ica.example"}
    ]
    assert otel.value("ica_tapis.limiter.wait.time") >= 0.002
    assert otel.value("ica_tapis.client.errors") == 0


def test_a_failed_call_names_its_error_without_secrets(otel: Otel) -> None:
    """An exception ends the span in error with error.type; the message is scrubbed."""

    class APIConnectionError(Exception):
        pass

    request = FakeRequest("GET", "getTransferTask")
    with pytest.raises(APIConnectionError), otel.telemetry.call("tapis", request, "t", None) as c:
        attempt = c.attempt(c.waiting())
        with attempt:
            raise APIConnectionError(f"reset while sending X-Tapis-Token: {JWT}")
    span = otel.span("tapis.transfers.get")
    assert span.status.status_code is StatusCode.ERROR
    assert JWT not in (span.status.description or "")
    assert dict(span.attributes or {})["error.type"] == "APIConnectionError"
    assert "server.port" not in dict(span.attributes or {})
    assert otel.value("ica_tapis.client.errors", error__type="APIConnectionError") == 1
    assert otel.count("http.client.request.duration", error__type="APIConnectionError") == 1
    assert otel.value("http.client.active_requests") == 0


def test_calls_nest_under_chunks_under_runs(otel: Otel) -> None:
    """A call inside a chunk inside a run has that parentage, and counts land on each."""
    with otel.telemetry.run("link", "run-1") as run:
        with otel.telemetry.chunk("link", "run-1", 0, 3) as chunk:
            with otel.telemetry.call("ica", FakeRequest(), "h", 80) as call:
                attempt = call.attempt(call.waiting())
                with attempt:
                    attempt.answered(201)
            chunk.submitted("batch-1")
            chunk.finished({"LINKED": 2, "FAILED": 1})
        run.counts({"LINKED": 2, "FAILED": 1})
    run_span = otel.span("orchestrator.link")
    chunk_span = otel.span("orchestrator.link.chunk")
    call_span = otel.span("ica.data_linking_batches.create")
    assert chunk_span.parent is not None
    assert run_span.context is not None
    assert chunk_span.parent.span_id == run_span.context.span_id
    assert call_span.parent is not None
    assert chunk_span.context is not None
    assert call_span.parent.span_id == chunk_span.context.span_id
    assert {s.context.trace_id for s in otel.spans() if s.context} == {run_span.context.trace_id}
    chunk_attrs = dict(chunk_span.attributes or {})
    assert chunk_attrs["ica_tapis.batch.id"] == "batch-1"
    assert chunk_attrs["ica_tapis.chunk.index"] == 0
    assert chunk_attrs["ica_tapis.items.LINKED"] == 2
    assert dict(run_span.attributes or {})["ica_tapis.items.FAILED"] == 1
    assert otel.value("ica_tapis.orchestrator.chunks", ica_tapis__chunk__state="submitted") == 1
    assert otel.value("ica_tapis.orchestrator.chunks", ica_tapis__chunk__state="done") == 1
    assert otel.value("ica_tapis.orchestrator.items", ica_tapis__item__status="LINKED") == 2


def test_a_chunk_that_raises_counts_as_failed(otel: Otel) -> None:
    """A chunk left by an exception is a failed chunk and leaves the live view."""
    live = LiveStats()
    telemetry = Telemetry(
        tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider, live=live
    )
    with pytest.raises(RuntimeError), telemetry.chunk("update", "r", 4, 10) as chunk:
        chunk.submitted("b-4")
        assert live.snapshot().pending == 1
        raise RuntimeError("journal gone")
    assert live.snapshot().pending == 0
    assert otel.value("ica_tapis.orchestrator.chunks", ica_tapis__chunk__state="failed") == 1
    span = otel.span("orchestrator.update.chunk")
    assert span.status.status_code is StatusCode.ERROR


def test_limiter_rate_is_a_gauge_everywhere(otel: Otel) -> None:
    """A tracked limiter's rate reaches OTel, the registry and the live view; unpaced is absent."""
    registry = MetricsRegistry()
    live = LiveStats()
    telemetry = Telemetry(meter_provider=otel.meter_provider, registry=registry, live=live)
    limiter = FakeLimiter()
    telemetry.track_limiter(limiter, server_address="ica.example")
    telemetry.track_limiter(limiter, server_address="ica.example")  # once is enough
    points = otel.points("ica_tapis.limiter.rate")
    assert [(p.value, dict(p.attributes)) for p in points] == [
        (7.5, {"server.address": "ica.example"})
    ]
    assert 'ica_tapis_limiter_rate_per_second{server_address="ica.example"} 7.5' in (
        registry.render()
    )
    assert live.snapshot().limiter_rate == 7.5
    limiter.rate = None
    assert "ica_tapis_limiter_rate_per_second{" not in registry.render()


def test_registry_and_live_listen_without_opentelemetry() -> None:
    """With OTel switched off, the registry and live view still get every measurement."""
    registry = MetricsRegistry()
    live = LiveStats()
    telemetry = Telemetry(otel=False, registry=registry, live=live)
    with telemetry.call("ica", FakeRequest("GET", "getProjectDataLinkingBatch"), "h", 1) as call:
        with call.attempt(call.waiting()) as attempt:
            attempt.answered(429)
        call.throttled(429)
        call.retry(1, 1.0, "429")
        with call.attempt(call.waiting()) as attempt:
            attempt.answered(200)
    assert registry.total(telemetry_metric("REQUESTS")) == 2
    assert registry.total(telemetry_metric("RETRIES")) == 1
    snap = live.snapshot()
    assert (snap.throttled_per_min, snap.retries_per_min) == (1, 1)
    assert snap.request_rate == 2.0


def telemetry_metric(name: str) -> MetricDef:
    """A metric definition by attribute name."""
    from ica_tapis_async._telemetry import METRICS

    metric = getattr(METRICS, name)
    assert isinstance(metric, MetricDef)
    return metric


def test_a_plain_call_is_one_span_made_whole_at_its_end(otel: Otel) -> None:
    """One attempt, no retry: the span starts when the call began, carries every attribute, and
    was never current (nothing nested in it); a call nested in it makes it current first."""
    before = time.time_ns()
    with otel.telemetry.call("ica", FakeRequest("GET", "getProjectDataLinkingBatch"), "h", 80) as c:
        assert not trace.get_current_span().get_span_context().is_valid
        with c.attempt(c.waiting()) as attempt:
            attempt.answered(200)
    after = time.time_ns()
    span = otel.span("ica.data_linking_batches.get")
    assert span.start_time is not None
    assert span.end_time is not None
    assert before <= span.start_time <= span.end_time <= after
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "server.address": "h",
        "server.port": 80,
        "http.response.status_code": 200,
    }
    assert span.events == ()


def test_a_call_inside_a_call_makes_its_parent_first(otel: Otel) -> None:
    """A token exchange inside a call nests under it; the outer span still gets its status."""
    outer_request = FakeRequest("POST", "createProjectDataLinkingBatch")
    token_request = FakeRequest("POST", "createJwtToken")
    with otel.telemetry.call("ica", outer_request, "h", 80) as outer:
        with otel.telemetry.call("ica", token_request, "h", 80) as inner:
            attempt = inner.attempt(inner.waiting())
            with attempt:
                attempt.answered(200)
        with outer.attempt(outer.waiting()) as attempt:
            attempt.answered(201)
    assert not trace.get_current_span().get_span_context().is_valid  # all detached
    outer_span = otel.span("ica.data_linking_batches.create")
    inner_span = otel.span("ica.tokens.create")
    assert inner_span.parent is not None
    assert outer_span.context is not None
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert dict(outer_span.attributes or {})["http.response.status_code"] == 201


def test_a_retry_makes_the_call_current_for_its_log_lines(otel: Otel) -> None:
    """From its first retry on, the call's span is current (a retry's log line names it)."""
    with otel.telemetry.call("tapis", FakeRequest("GET", "getTransferTask"), "t", 443) as call:
        with call.attempt(call.waiting()) as attempt:
            attempt.answered(503)
        call.retry(1, 0.01, "503")
        current = trace.get_current_span().get_span_context()
        with call.attempt(call.waiting()) as attempt:
            attempt.answered(200)
    span = otel.span("tapis.transfers.get")
    assert span.context is not None
    assert current.span_id == span.context.span_id
    assert dict(span.attributes or {})["http.request.resend_count"] == 1
    assert otel.count("http.client.request.duration") == 2


def test_a_task_that_outlives_a_call_does_not_reopen_its_span(otel: Otel) -> None:
    """A context copied inside a call (a task started there) and used after the call ended
    makes its own root span, not a second span of the ended call."""
    with otel.telemetry.call("ica", FakeRequest("GET", "getProjectDataLinkingBatch"), "h", 1) as c:
        copied = contextvars.copy_context()
        with c.attempt(c.waiting()) as attempt:
            attempt.answered(200)

    def later() -> None:
        with otel.telemetry.call("ica", FakeRequest("POST", "createJwtToken"), "h", 1) as call:
            sent = call.attempt(call.waiting())
            with sent:
                sent.answered(200)

    copied.run(later)
    assert len(otel.spans()) == 2
    assert otel.span("ica.data_linking_batches.get").parent is None
    assert otel.span("ica.tokens.create").parent is None
