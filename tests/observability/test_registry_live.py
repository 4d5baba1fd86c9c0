"""The in-house registry's Prometheus text and the live view's rolling windows."""

from __future__ import annotations

import aiohttp

from ica_tapis_async._telemetry import METRICS, LiveStats, MetricsRegistry, serve_metrics
from ica_tapis_async._telemetry._server import CONTENT_TYPE


class FakeClock:
    """Monotonic time that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_registry_renders_counters_histograms_and_gauges() -> None:
    """Counters sum per label set, histograms are cumulative, gauges are read at render."""
    registry = MetricsRegistry(buckets=(0.1, 1.0))
    registry.add(METRICS.REQUESTS, 1, {"ica_tapis.operation": "get", "x": 'a"b'})
    registry.add(METRICS.REQUESTS, 2, {"ica_tapis.operation": "get", "x": 'a"b'})
    registry.record(METRICS.REQUEST_DURATION, 0.05, {"http.request.method": "GET"})
    registry.record(METRICS.REQUEST_DURATION, 0.5, {"http.request.method": "GET"})
    registry.record(METRICS.REQUEST_DURATION, 7.0, {"http.request.method": "GET"})
    registry.observe(METRICS.LIMITER_RATE, lambda: [(12.5, {"server.address": "h"})])
    text = registry.render()
    assert "# TYPE ica_tapis_client_requests_total counter" in text
    assert 'ica_tapis_client_requests_total{ica_tapis_operation="get",x="a\\"b"} 3' in text
    assert "# TYPE http_client_request_duration_seconds histogram" in text
    assert (
        'http_client_request_duration_seconds_bucket{http_request_method="GET",le="0.1"} 1' in text
    )
    assert 'http_client_request_duration_seconds_bucket{http_request_method="GET",le="1"} 2' in text
    assert (
        'http_client_request_duration_seconds_bucket{http_request_method="GET",le="+Inf"} 3' in text
    )
    assert 'http_client_request_duration_seconds_sum{http_request_method="GET"} 7.55' in text
    assert 'http_client_request_duration_seconds_count{http_request_method="GET"} 3' in text
    assert 'ica_tapis_limiter_rate_per_second{server_address="h"} 12.5' in text
    assert registry.value(METRICS.REQUESTS, **{"ica_tapis.operation": "get", "x": 'a"b'}) == 3
    assert registry.total(METRICS.REQUESTS) == 3
    assert text.endswith("\n")


def test_registry_up_down_counter_is_a_prometheus_gauge() -> None:
    """In-flight requests go up and down and are exposed as a gauge."""
    registry = MetricsRegistry()
    registry.add(METRICS.ACTIVE_REQUESTS, 1, {})
    registry.add(METRICS.ACTIVE_REQUESTS, 1, {})
    registry.add(METRICS.ACTIVE_REQUESTS, -1, {})
    text = registry.render()
    assert "# TYPE http_client_active_requests gauge" in text
    assert "\nhttp_client_active_requests 1\n" in text


def test_live_stats_windows_and_slowest_batch() -> None:
    """Rates cover the last 10 s, 429s and retries the last minute; the oldest batch is slowest."""
    clock = FakeClock()
    live = LiveStats(clock=clock)
    live.limiter_rate = lambda: 8.0
    for _ in range(20):
        live.request()
    live.throttled()
    live.retried()
    live.batch_pending("link", 0, "b-0")
    clock.now += 2
    live.batch_pending("link", 1, "b-1")
    snap = live.snapshot()
    assert snap.request_rate == 10.0  # 20 requests over the 2 s the run has lasted
    assert (snap.throttled_per_min, snap.retries_per_min, snap.pending) == (1, 1, 2)
    assert snap.slowest is not None
    assert (snap.slowest.batch_id, snap.slowest.age_s) == ("b-0", 2.0)
    assert "limit 8.0/s" in snap.describe()
    assert "slowest batch b-0" in snap.describe()
    live.batch_finished("link", 0)
    clock.now += 61
    snap = live.snapshot()
    assert (snap.request_rate, snap.throttled_per_min, snap.retries_per_min) == (0.0, 0, 0)
    assert snap.slowest is not None
    assert snap.slowest.batch_id == "b-1"
    live.batch_finished("link", 1)
    live.limiter_rate = lambda: None
    assert live.snapshot().slowest is None
    assert "unpaced" in live.snapshot().describe()


async def test_serve_metrics_answers_a_scrape() -> None:
    """GET /metrics on a free loopback port returns the registry in Prometheus text."""
    registry = MetricsRegistry()
    registry.add(METRICS.RETRIES, 4, {"error.type": "503"})
    async with (
        serve_metrics(registry, 0) as port,
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as answer,
    ):
        assert answer.status == 200
        assert answer.headers["Content-Type"] == CONTENT_TYPE
        body = await answer.text()
    assert 'ica_tapis_client_retries_total{error_type="503"} 4' in body
