"""The one object the session and the orchestrator report to."""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from .._version import __version__
from ._calls import Call, NoopCall, Site, trace_api
from ._live import LiveStats
from ._names import ATTR, METRICS, MetricDef, span_name
from ._otel import is_real_provider, load_api, make_instruments
from ._registry import MetricsRegistry
from ._runs import ChunkScope, RunScope, TaskScope

__all__ = ("Telemetry",)

AttrValue = str | int | float | bool

_NOOP = NoopCall()
_RECHECK_S = 1.0
_MAX_SITES = 4096  # (api, operation, method, server) combinations remembered; far more than used


class _HasRate(Protocol):
    @property
    def rate(self) -> float | None: ...


class _RequestLike(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def operation(self) -> str: ...


class Telemetry:
    """Where a client's spans and measurements go.

    By default it reports to the global OpenTelemetry providers, and only once an SDK has been
    installed there: without the ``otel`` extra, or with the API alone, a call costs a few
    attribute look-ups. A :class:`MetricsRegistry` (for a Prometheus scrape) and a
    :class:`LiveStats` (for a live view) can listen as well.

    Args:
        tracer_provider: an OpenTelemetry ``TracerProvider``; ``None`` for the global one.
        meter_provider: an OpenTelemetry ``MeterProvider``; ``None`` for the global one.
        registry: also keep every measurement here (for ``--metrics-port``).
        live: also feed this live view.
        otel: ``False`` to ignore OpenTelemetry even when it is installed.
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        registry: MetricsRegistry | None = None,
        live: LiveStats | None = None,
        otel: bool = True,
    ) -> None:
        self._api = load_api() if otel else None
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self.registry = registry
        self.live = live
        #: Counter sums and the in-flight count live here (the Prometheus registry when there is
        #: one); OpenTelemetry's observable instruments read them at collection time.
        self.counts = registry if registry is not None else MetricsRegistry(buckets=())
        self._sites: dict[tuple[str, str, str, str, int | None], Site] = {}
        self._tracer_cache: tuple[Any, Any] = (None, None)
        self._meter_cache: tuple[Any, Any] = (None, None)
        # Asking OpenTelemetry for its global providers reads os.environ each time: the answer
        # is kept for a second, which still finds a provider installed after start-up.
        self._checked: tuple[float, Any, Any] = (-1.0, None, None)
        self._limiters: list[tuple[weakref.ref[_HasRate], dict[str, AttrValue]]] = []
        if registry is not None:
            registry.observe(METRICS.LIMITER_RATE, self._limiter_rates)

    @staticmethod
    @functools.cache
    def default() -> Telemetry:
        """The telemetry of clients given none: the global OpenTelemetry providers only."""
        return Telemetry()

    # -- plumbing ------------------------------------------------------------------------------

    def trace_api(self) -> tuple[Any, Any]:
        """``(opentelemetry.trace, opentelemetry.context)``; only called once a span exists."""
        trace, context, _client = trace_api()
        return trace, context

    def tracer(self) -> Any:
        """This library's tracer, or ``None`` when no SDK provider is there to record spans."""
        if self._api is None:
            return None
        provider = self._tracer_provider or self._globals()[0]
        cached_provider, tracer = self._tracer_cache
        if provider is cached_provider:
            return tracer
        tracer = (
            provider.get_tracer("ica_tapis_async", __version__)
            if is_real_provider(provider)
            else None
        )
        self._tracer_cache = (provider, tracer)
        return tracer

    def _instruments(self) -> Any:
        if self._api is None:
            return None
        provider = self._meter_provider or self._globals()[1]
        cached_provider, instruments = self._meter_cache
        if provider is cached_provider:
            return instruments
        instruments = None
        if is_real_provider(provider):
            readers: dict[str, Any] = {
                m.name: functools.partial(self.counts.series, m)
                for m in METRICS.all()
                if m.kind in ("counter", "updowncounter")
            }
            readers[METRICS.LIMITER_RATE.name] = self._limiter_rates
            instruments = make_instruments(provider, __version__, readers)
        self._meter_cache = (provider, instruments)
        return instruments

    def _globals(self) -> tuple[Any, Any]:
        checked, tracer_provider, meter_provider = self._checked
        now = time.monotonic()
        if now - checked >= _RECHECK_S:
            assert self._api is not None
            tracer_provider = self._api[0].get_tracer_provider()
            meter_provider = self._api[1].get_meter_provider()
            self._checked = (now, tracer_provider, meter_provider)
        return tracer_provider, meter_provider

    def add(self, metric: MetricDef, value: float, attributes: Mapping[str, AttrValue]) -> None:
        """Add to a counter (read by every listener)."""
        self._instruments()  # registers the observable instruments with a newly set provider
        self.counts.add(metric, value, attributes)

    def record(self, metric: MetricDef, value: float, attributes: Mapping[str, AttrValue]) -> None:
        """Record a histogram observation in every listener."""
        instruments = self._instruments()
        if instruments is not None:
            instruments.record(metric, value, attributes)
        if self.registry is not None:
            self.registry.record(metric, value, attributes)

    def track_limiter(self, limiter: _HasRate, *, server_address: str) -> None:
        """Report ``limiter.rate`` as the ``ica_tapis.limiter.rate`` gauge (weakly held)."""
        for ref, _attributes in self._limiters:
            if ref() is limiter:
                return
        self._limiters.append((weakref.ref(limiter), {ATTR.SERVER_ADDRESS: server_address}))
        self._instruments()  # the gauge exists from now on, even before the first request
        if self.live is not None:
            self.live.limiter_rate = functools.partial(_rate_of, weakref.ref(limiter))

    def _limiter_rates(self) -> Iterable[tuple[float, Mapping[str, AttrValue]]]:
        readings = []
        for ref, attributes in self._limiters:
            limiter = ref()
            rate = None if limiter is None else limiter.rate
            if rate is not None:
                readings.append((float(rate), attributes))
        return readings

    # -- what the session and the orchestrator call --------------------------------------------

    def call(
        self, api: str, request: _RequestLike, server_address: str, server_port: int | None
    ) -> Call | NoopCall:
        """The scope of one logical call (all its attempts), to use as ``with``."""
        tracer = self.tracer()
        instruments = self._instruments()
        if tracer is None and instruments is None and self.registry is None and self.live is None:
            return _NOOP
        operation = request.operation
        method = request.method
        key = (api, operation, method, server_address, server_port)
        site = self._sites.get(key)
        if site is None:
            site = self._site(key)
        return Call(self, tracer, instruments, site)

    def _site(self, key: tuple[str, str, str, str, int | None]) -> Site:
        api, operation, method, server_address, server_port = key
        server: dict[str, AttrValue] = {
            ATTR.HTTP_METHOD: method,
            ATTR.SERVER_ADDRESS: server_address,
        }
        if server_port is not None:
            server[ATTR.SERVER_PORT] = server_port
        names: dict[str, AttrValue] = {ATTR.API: api, ATTR.OPERATION: operation or method}
        if len(self._sites) >= _MAX_SITES:
            self._sites.clear()  # unknown operation ids from a caller: do not grow for ever
        site = self._sites[key] = Site(self, span_name(api, operation, method), server, names)
        return site

    def run(self, kind: str, run_id: str) -> RunScope:
        """The scope of an orchestrator run, to use as ``with``."""
        return RunScope(self, kind, run_id)

    def chunk(self, kind: str, run_id: str, index: int, items: int) -> ChunkScope:
        """The scope of one chunk from submit to last poll, to use as ``with``."""
        return ChunkScope(self, kind, run_id, index, items)

    def task(self, kind: str, run_id: str, index: int) -> TaskScope:
        """The scope of one transfer task from create to final status, to use as ``with``."""
        return TaskScope(self, kind, run_id, index)


def _rate_of(ref: weakref.ref[_HasRate]) -> float | None:
    limiter = ref()
    return None if limiter is None else limiter.rate
