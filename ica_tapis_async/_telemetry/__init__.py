"""Observability: OpenTelemetry spans and metrics, structured logs, Prometheus text, a live view.

Everything here works without OpenTelemetry installed; with the ``otel`` extra and an SDK
configured by the application, the session and the orchestrator report spans and metrics
through the OpenTelemetry API.
"""

from ._facade import Telemetry
from ._live import LiveSnapshot, LiveStats, PendingBatch
from ._logging import JsonFormatter, ScrubbingFormatter, configure_logging
from ._names import ATTR, METRICS, MetricDef, span_name
from ._registry import MetricsRegistry, prometheus_name
from ._runs import TaskScope, batch_known
from ._scrub import scrub_text, scrub_url, server_of
from ._server import serve_metrics

__all__ = (
    "ATTR",
    "METRICS",
    "JsonFormatter",
    "LiveSnapshot",
    "LiveStats",
    "MetricDef",
    "MetricsRegistry",
    "PendingBatch",
    "ScrubbingFormatter",
    "TaskScope",
    "Telemetry",
    "batch_known",
    "configure_logging",
    "prometheus_name",
    "scrub_text",
    "scrub_url",
    "serve_metrics",
    "server_of",
    "span_name",
)
