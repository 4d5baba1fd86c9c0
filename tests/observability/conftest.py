"""The otel fixture: OpenTelemetry SDK providers that keep everything in memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ica_tapis_async._telemetry import Telemetry

from .helpers import Otel


@pytest.fixture
def otel() -> Iterator[Otel]:
    """A fresh in-memory tracer and meter provider per test."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield Otel(exporter, reader, telemetry, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()
