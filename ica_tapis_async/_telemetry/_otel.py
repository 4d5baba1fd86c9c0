"""Reaching the OpenTelemetry API, when it is installed and an SDK has been configured.

Nothing here imports ``opentelemetry`` at module import time: without the ``otel`` extra the
library never pays for it, and with the API but no SDK (the API's proxy or no-op providers) the
library makes no spans and records no metrics at all, instead of making non-recording ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from ._names import METRICS, MetricDef

__all__ = ("Instruments", "is_real_provider", "load_api", "make_instruments")

AttrValue = str | int | float | bool
GaugeReader = Callable[[], Iterable[tuple[float, Mapping[str, AttrValue]]]]


@functools.cache
def load_api() -> tuple[ModuleType, ModuleType] | None:
    """``(opentelemetry.trace, opentelemetry.metrics)``, or ``None`` without the extra."""
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        return None
    return trace, metrics


def is_real_provider(provider: object) -> bool:
    """Whether ``provider`` comes from an SDK rather than the API's proxy or no-op ones."""
    return not type(provider).__module__.startswith(
        ("opentelemetry.trace", "opentelemetry.metrics")
    )


class Instruments:
    """The instruments of one meter, by metric name.

    Counters and the in-flight count are kept in this process (an addition to a series the
    caller holds) and reported through observable instruments when the SDK collects: a request
    pays for one synchronous SDK measurement, its duration.

    Attributes:
        duration: the ``http.client.request.duration`` histogram.
    """

    def __init__(self, meter: Any, readers: Mapping[str, GaugeReader]) -> None:
        api = load_api()
        assert api is not None  # only built once the API was found
        observation = api[1].Observation
        self.histograms: dict[str, Any] = {}
        observable = {
            "gauge": meter.create_observable_gauge,
            "counter": meter.create_observable_counter,
            "updowncounter": meter.create_observable_up_down_counter,
        }
        for metric in METRICS.all():
            if metric.kind == "histogram":
                self.histograms[metric.name] = meter.create_histogram(
                    metric.name, unit=metric.unit, description=metric.description
                )
                continue
            # One callback per instrument, called at collection time only.
            observable[metric.kind](
                metric.name,
                callbacks=[_observer(readers[metric.name], observation)],
                unit=metric.unit,
                description=metric.description,
            )

        self.duration = self.histograms[METRICS.REQUEST_DURATION.name]

    def record(self, metric: MetricDef, value: float, attributes: Mapping[str, AttrValue]) -> None:
        """Record a histogram observation."""
        self.histograms[metric.name].record(value, attributes)


def _observer(reader: GaugeReader, observation: Any) -> Callable[[Any], Iterable[Any]]:
    def observe(_options: Any) -> Iterable[Any]:
        return [observation(value, dict(attributes)) for value, attributes in reader()]

    return observe


def make_instruments(
    meter_provider: Any, version: str, readers: Mapping[str, GaugeReader]
) -> Instruments:
    """Instruments of this library's meter on ``meter_provider``; ``readers`` give the current
    values of every metric that is not a histogram."""
    meter = meter_provider.get_meter("ica_tapis_async", version)
    return Instruments(meter, readers)
