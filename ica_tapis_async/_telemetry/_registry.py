"""A small in-process metric registry and its Prometheus text exposition.

The OpenTelemetry SDK (and so its Prometheus exporter) is the user's choice, not a dependency;
``--metrics-port`` still needs something to serve, so the same measurements are kept here too
when a registry is attached.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from ._names import MetricDef

__all__ = ("DEFAULT_BUCKETS", "Cell", "HistogramCell", "MetricsRegistry", "prometheus_name")

AttrValue = str | int | float | bool
Key = tuple[tuple[str, AttrValue], ...]  # attributes as recorded, sorted
Labels = tuple[tuple[str, str], ...]  # the same, as Prometheus labels

#: Histogram bucket bounds in seconds: a local simulator answers in ~1 ms, a throttled wait or a
#: slow server in seconds.
DEFAULT_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

_INVALID: Final = re.compile(r"[^a-zA-Z0-9_]")
_UNIT_SUFFIX: Final = {"s": "seconds", "{request}/s": "per_second"}


def prometheus_name(metric: MetricDef) -> str:
    """The Prometheus name of an OpenTelemetry instrument, as the OTel-Prometheus mapping
    derives it: dots to underscores, the unit as a suffix, ``_total`` on counters."""
    name = _INVALID.sub("_", metric.name)
    suffix = _UNIT_SUFFIX.get(metric.unit)
    if suffix and not name.endswith(suffix):
        name = f"{name}_{suffix}"
    if metric.kind == "counter":
        name += "_total"
    return name


def _key(attributes: Mapping[str, AttrValue]) -> Key:
    return tuple(sorted(attributes.items()))


def _labels(key: Iterable[tuple[str, AttrValue]]) -> Labels:
    return tuple(sorted((_INVALID.sub("_", k), str(v)) for k, v in key))


class Cell:
    """One counter series: a caller that adds to it often keeps it (no key to build each time)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0


class HistogramCell:
    """One histogram series; :meth:`observe` counts a value in it."""

    __slots__ = ("_bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in its bucket."""
        self.counts[bisect.bisect_left(self._bounds, value)] += 1
        self.count += 1
        self.sum += value


class MetricsRegistry:
    """Counters, gauges and histograms keyed by instrument and attributes.

    Not thread-safe on purpose: everything that records runs on one event loop.

    Args:
        buckets: histogram upper bounds, in the instrument's unit.
    """

    def __init__(self, buckets: Iterable[float] = DEFAULT_BUCKETS) -> None:
        self._buckets = tuple(sorted(buckets))
        self._defs: dict[str, MetricDef] = {}
        self._sums: dict[str, dict[Key, Cell]] = {}
        self._histograms: dict[str, dict[Key, HistogramCell]] = {}
        self._gauges: dict[str, Callable[[], Iterable[tuple[float, Mapping[str, AttrValue]]]]] = {}

    def add(self, metric: MetricDef, value: float, attributes: Mapping[str, AttrValue]) -> None:
        """Add ``value`` to a counter or up-down counter."""
        self.cell(metric, attributes).value += value

    def cell(self, metric: MetricDef, attributes: Mapping[str, AttrValue]) -> Cell:
        """The series of a counter for ``attributes``, made on first use."""
        series = self._sums.get(metric.name)
        if series is None:
            self._defs.setdefault(metric.name, metric)
            series = self._sums[metric.name] = {}
        key = _key(attributes)
        cell = series.get(key)
        if cell is None:
            cell = series[key] = Cell()
        return cell

    def record(self, metric: MetricDef, value: float, attributes: Mapping[str, AttrValue]) -> None:
        """Record one histogram observation."""
        self.histogram(metric, attributes).observe(value)

    def histogram(self, metric: MetricDef, attributes: Mapping[str, AttrValue]) -> HistogramCell:
        """The series of a histogram for ``attributes``, made on first use."""
        series = self._histograms.get(metric.name)
        if series is None:
            self._defs.setdefault(metric.name, metric)
            series = self._histograms[metric.name] = {}
        key = _key(attributes)
        histogram = series.get(key)
        if histogram is None:
            histogram = series[key] = HistogramCell(self._buckets)
        return histogram

    def observe(
        self,
        metric: MetricDef,
        callback: Callable[[], Iterable[tuple[float, Mapping[str, AttrValue]]]],
    ) -> None:
        """Read a gauge through ``callback`` at each exposition."""
        self._defs[metric.name] = metric
        self._gauges[metric.name] = callback

    def value(self, metric: MetricDef, **attributes: AttrValue) -> float:
        """The current value of a counter series (0 when never recorded); for tests and views."""
        cell = self._sums.get(metric.name, {}).get(_key(attributes))
        return 0.0 if cell is None else cell.value

    def series(self, metric: MetricDef) -> list[tuple[float, dict[str, AttrValue]]]:
        """Every series of a counter: its value and its attributes."""
        return [(cell.value, dict(key)) for key, cell in self._sums.get(metric.name, {}).items()]

    def total(self, metric: MetricDef) -> float:
        """A counter's sum over every attribute set."""
        return sum(cell.value for cell in self._sums.get(metric.name, {}).values())

    def render(self) -> str:
        """The registry in the Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []
        for name, metric in sorted(self._defs.items()):
            prom = prometheus_name(metric)
            kind = {"updowncounter": "gauge"}.get(metric.kind, metric.kind)
            lines.append(f"# HELP {prom} {_escape_help(metric.description)}")
            lines.append(f"# TYPE {prom} {kind}")
            if name in self._gauges:
                for value, attributes in self._gauges[name]():
                    lines.append(_sample(prom, _labels(attributes.items()), value))
            sums = self._sums.get(name, {})
            for labels, total in sorted((_labels(k), c.value) for k, c in sums.items()):
                lines.append(_sample(prom, labels, total))
            histograms = self._histograms.get(name, {})
            for labels, histogram in sorted(
                ((_labels(k), h) for k, h in histograms.items()), key=lambda entry: entry[0]
            ):
                cumulative = 0
                for bound, count in zip(self._buckets, histogram.counts, strict=False):
                    cumulative += count
                    lines.append(
                        _sample(f"{prom}_bucket", (*labels, ("le", _num(bound))), cumulative)
                    )
                lines.append(_sample(f"{prom}_bucket", (*labels, ("le", "+Inf")), histogram.count))
                lines.append(_sample(f"{prom}_sum", labels, histogram.sum))
                lines.append(_sample(f"{prom}_count", labels, histogram.count))
        return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _sample(name: str, labels: Labels, value: float) -> str:
    if not labels:
        return f"{name} {_num(value)}"
    inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
    return f"{name}{{{inner}}} {_num(value)}"
