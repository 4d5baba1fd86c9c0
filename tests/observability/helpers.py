"""Payloads and helpers shared by the observability tests (imported from here, not conftest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ica_tapis_async._telemetry import Telemetry


@attrs.define
class Otel:
    """An in-memory SDK pipeline and the Telemetry that reports to it."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    telemetry: Telemetry
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        """Every finished span so far."""
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``."""
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` (empty when never recorded)."""
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        if data is None:
            return points
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def value(self, name: str, **attributes: Any) -> float:
        """Sum of a counter's points whose attributes include ``attributes``."""
        return float(sum(p.value for p in self.points(name) if _matches(p.attributes, attributes)))

    def count(self, name: str, **attributes: Any) -> int:
        """Observations of a histogram whose attributes include ``attributes``."""
        return sum(p.count for p in self.points(name) if _matches(p.attributes, attributes))


def _matches(have: Mapping[str, Any] | None, want: Mapping[str, Any]) -> bool:
    have = have or {}
    return all(have.get(k.replace("__", ".")) == v for k, v in want.items())
