"""Span names, metric names and the scrubbing of credentials from text."""

from __future__ import annotations

import pytest

from ica_tapis_async._telemetry import METRICS, prometheus_name, scrub_text, scrub_url, span_name
from ica_tapis_async._telemetry._scrub import server_of

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIiwiZXhwIjo5OTl9.c2lnbmF0dXJlX2J5dGVz"


def test_span_names_read_like_the_method_called() -> None:
    """A known operationId becomes resource.method; an unknown one keeps its id, never a URL."""
    assert span_name("ica", "createProjectDataLinkingBatch", "POST") == (
        "ica.data_linking_batches.create"
    )
    assert span_name("tapis", "getRecentTransferTasks", "GET") == "tapis.transfers.list_recent"
    assert span_name("ica", "someNewOperation", "GET") == "ica.someNewOperation"
    assert span_name("ica", "", "DELETE") == "ica.DELETE"


def test_metric_names_are_unique_and_map_to_prometheus() -> None:
    """Every instrument has its own name; Prometheus names get unit suffixes and _total."""
    names = [m.name for m in METRICS.all()]
    assert len(names) == len(set(names)) == 10
    assert prometheus_name(METRICS.REQUEST_DURATION) == "http_client_request_duration_seconds"
    assert prometheus_name(METRICS.REQUESTS) == "ica_tapis_client_requests_total"
    assert prometheus_name(METRICS.ACTIVE_REQUESTS) == "http_client_active_requests"
    assert prometheus_name(METRICS.LIMITER_RATE) == "ica_tapis_limiter_rate_per_second"
    assert prometheus_name(METRICS.LIMITER_WAIT) == "ica_tapis_limiter_wait_time_seconds_total"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        (f"token {JWT} expired", JWT),
        ("postgresql://ingest:pg-s3cret@db:5432/ingest", "pg-s3cret"),
        ("redis://:redis-pass@cache:6379/0", "redis-pass"),
        # A password holding the characters that end user info (the engines' rules differ).
        ("journal postgresql://u:pg@s/e#c?r%t@db/x unavailable", "s/e#c?r%t"),
        ("at redis://us:re@d/is#pw?x@cache:6379/0: refused", "d/is#pw?x"),
        ("X-API-Key: k-123456789abcdef", "k-123456789abcdef"),
        ("connect(api_key='k-abcdef0123')", "k-abcdef0123"),
        ("url?access_token=opaque-tok&x=1", "opaque-tok"),
        ("bearer opaque.tok.value", "opaque.tok.value"),
        ("password=hunter2", "hunter2"),
    ],
)
def test_scrub_text_removes_credentials(text: str, secret: str) -> None:
    """Each credential shape is replaced by *** and the text around it is kept."""
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert "***" in scrubbed


def test_scrub_text_keeps_ordinary_text() -> None:
    """Ids, paths and messages without credentials pass unchanged."""
    text = "POST https://ica.example/ica/rest/api/projects/p-1/dataLinkingBatches -> 201 (fil.123)"
    assert scrub_text(text) == text
    assert scrub_text("") == ""


def test_scrub_url_drops_user_info_query_and_fragment() -> None:
    """What names a request in telemetry carries no credentials and no query."""
    assert (
        scrub_url("https://u:p@host.example:8443/a/b?token=x#f") == "https://host.example:8443/a/b"
    )
    assert scrub_url("http://[::1]:9/x") == "http://[::1]:9/x"
    assert "secret" not in scrub_url("http://user:secret@h:notaport/x")


def test_server_of_uses_the_scheme_default_port() -> None:
    """server.port is the written port or the scheme's default."""
    assert server_of("https://ica.example/ica/rest") == ("ica.example", 443)
    assert server_of("http://127.0.0.1:8123/x") == ("127.0.0.1", 8123)
    assert server_of("http://h:bad/x") == ("", None)


@pytest.mark.parametrize("unit", ["a", "x-api-key", "eyJ", "a.b+c-", "http:/", "user@"])
def test_scrub_text_stays_linear_on_long_text(unit: str) -> None:
    """A 300 KB body of scheme-like characters is scrubbed in one pass (no backtracking blow-up:
    the quadratic pattern took minutes here, beyond the suite's per-test time limit)."""
    text = unit * (300_000 // len(unit))
    assert len(scrub_text(text)) >= len(text) // 2
    assert scrub_text(text + " redis://:pw@h").endswith("redis://***@h")
