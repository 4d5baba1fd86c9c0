"""Per request: what the instrumentation costs, off and on.

The same ``get_item`` as ``bench_requests.py`` (a 2.5 KB V4 item from a static server in a child
process, ``--concurrency`` coroutines, no rate limit), through four clients:

- off: ``Telemetry(otel=False)``: the session's hooks are the shared no-op scope,
- API only: the default: ``opentelemetry-api`` installed, no SDK configured (what a library user
  who never set up OpenTelemetry gets),
- on: an SDK ``TracerProvider`` (every span exported, through a ``BatchSpanProcessor``, to a
  discarding exporter) and an SDK ``MeterProvider`` with a reader, so every span, event and
  metric is really made,
- on, 10% sampled: the same with ``ParentBased(TraceIdRatioBased(0.1))``, the usual production
  set-up for a high-volume client.

Runs alternate (off, API only, on, sampled, off, …) so that drift in the machine hits all alike;
in each round the hooks a request goes through are also timed alone, in a tight loop, and the
best round of each is kept.

Costs are the client process's CPU time per request (the server's is not counted). On a busy
machine two whole-request figures differ by more than the hooks cost, so the targets use the
hooks timed alone: no-op hooks < 1% of a request; on (all or 10% sampled) < 10%.

One more row, "SDK alone", times the least any instrumentation of a request can ask of the SDK
with these providers: one ``start_span``/``end`` of a CLIENT span with the four attributes the
HTTP conventions require and one histogram measurement with the same attributes. The hooks
cannot cost less than that; what they cost above it is this library's own work.

    python benchmarks/bench_telemetry.py --requests 5000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import Any

import _common
import orjson

import ica_tapis_async as ita
from ica_tapis_async._core._request import Request
from ica_tapis_async._telemetry import Telemetry

V4 = "application/vnd.illumina.v4+json"


def _sdk_providers(sampled: float = 1.0) -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        """Takes every span and keeps none (the export path runs; memory stays flat)."""

        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    tracer_provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(sampled)))
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider


def _sdk_telemetry(sampled: float = 1.0) -> Telemetry:
    tracer_provider, meter_provider = _sdk_providers(sampled)
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


def sdk_alone_seconds(providers: tuple[Any, Any], calls: int) -> float:
    """CPU seconds of the SDK calls one request needs at the least: a CLIENT span with the
    required HTTP attributes, and one duration measurement."""
    from opentelemetry.trace import SpanKind

    tracer_provider, meter_provider = providers
    tracer = tracer_provider.get_tracer("bench-floor")
    histogram = meter_provider.get_meter("bench-floor").create_histogram("bench.duration", "s")
    attributes = {
        "http.request.method": "GET",
        "server.address": "h",
        "server.port": 80,
        "http.response.status_code": 200,
    }
    started = time.process_time()
    for _ in range(calls):
        tracer.start_span(
            "ica.data_linking_batches.get_item", None, SpanKind.CLIENT, attributes
        ).end()
        histogram.record(0.001, attributes)
    return (time.process_time() - started) / calls


async def _cpu_per_request(ica: ita.IcaClient, requests: int, concurrency: int) -> float:
    resource = ica.data_linking_batches
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            item = await resource.get_item(_common.PROJECT_ID, _common.BATCH_ID, _common.ITEM_ID)
            assert item.processing.status == "LINKED"

    # CPU time of this process, not wall time: the server runs in another process, and other
    # load on the machine then moves the figures far less.
    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / requests


SDK_ALONE = "SDK alone: 1 span + 1 histogram measurement"


async def measure(
    base: str, requests: int, concurrency: int, repeat: int, hooks: dict[str, list[float]]
) -> dict[str, list[float]]:
    """Client CPU seconds per request of each variant, ``repeat`` interleaved runs each; the
    hooks alone, timed in each round, go into ``hooks``."""
    policy = ita.RateLimitPolicy(rate=None, max_in_flight=None, adaptive=False)
    providers = _sdk_providers()
    variants = {
        "off (Telemetry(otel=False))": Telemetry(otel=False),
        "API only, no SDK (the default)": Telemetry(),
        "on (SDK traces + metrics)": Telemetry(
            tracer_provider=providers[0], meter_provider=providers[1]
        ),
        "on, 10% of traces sampled": _sdk_telemetry(0.1),
    }
    clients = {
        name: ita.IcaClient(
            base,
            api_key="bench-key",
            rate_limit=policy,
            max_connections=concurrency,
            telemetry=telemetry,
        )
        for name, telemetry in variants.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in clients}
    hooks.update({name: [] for name in [*variants, SDK_ALONE]})
    try:
        for name, ica in clients.items():
            await _cpu_per_request(ica, min(requests, 500), concurrency)  # warm up
            hooks_seconds(variants[name], 1000)
        sdk_alone_seconds(providers, 1000)
        for _ in range(repeat):
            for name, ica in clients.items():
                hooks[name].append(hooks_seconds(variants[name]))
                rates[name].append(await _cpu_per_request(ica, requests, concurrency))
            hooks[SDK_ALONE].append(sdk_alone_seconds(providers, 5_000))
    finally:
        for ica in clients.values():
            await ica.close()
    return rates


def hooks_seconds(telemetry: Telemetry, calls: int = 5_000) -> float:
    """CPU seconds per request spent in the session's telemetry hooks alone, in a tight loop
    (steadier than the difference of two whole-request figures on a busy machine)."""
    request = Request("GET", "http://h/x", {}, operation="getProjectDataLinkingBatchItem")
    started = time.process_time()
    for _ in range(calls):
        with telemetry.call("ica", request, "h", 80) as call:
            waiting = call.waiting()
            with call.attempt(waiting) as sent:
                sent.answered(200)
    return (time.process_time() - started) / calls


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three variants; print the table; 0 when both targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs per variant")
    args = parser.parse_args(argv)

    body = orjson.dumps(_common.linking_item(0))
    with _common.StaticServer(body, V4) as port:
        base = f"http://127.0.0.1:{port}/ica/rest"
        timed: dict[str, list[float]] = {}
        rates = asyncio.run(measure(base, args.requests, args.concurrency, args.repeat, timed))
    best = {name: min(values) for name, values in rates.items()}
    hooks = {name: min(values) for name, values in timed.items()}
    off = next(iter(best.values()))
    rows = [
        (
            name,
            f"{min(values) * 1e6:,.1f}",
            f"{sorted(values)[len(values) // 2] * 1e6:,.1f}",
            f"{(min(values) / off - 1) * 100:+.1f}%",
            f"{hooks[name] * 1e6:,.1f}",
            f"{hooks[name] / off * 100:.1f}%",
        )
        for name, values in rates.items()
    ]
    rows.append(
        (SDK_ALONE, "", "", "", f"{hooks[SDK_ALONE] * 1e6:,.1f}", f"{hooks[SDK_ALONE] / off:.1%}")
    )
    text = _common.table(
        [
            "telemetry",
            "CPU µs/request (best)",
            "CPU µs/request (median)",
            "cost vs off",
            "hooks alone µs",
            "hooks / request",
        ],
        rows,
    )
    text += (
        f"\n\n{args.concurrency} in flight; {args.requests:,} requests per run, best of "
        f"{args.repeat} interleaved runs; 'hooks alone': the telemetry calls one request makes, "
        "timed in a tight loop (best round), as a share of an uninstrumented request (best run); "
        "'SDK alone': the least the SDK can be asked for per request (see the docstring)"
    )
    noop, _, hooked, hooked_sampled, floor = hooks.values()
    notes = (
        f"on: hooks above the SDK alone: {(hooked - floor) * 1e6:,.1f} µs "
        f"({(hooked - floor) / off:.1%} of a request)"
    )
    ok = _common.report(
        "Per request: instrumentation off and on",
        text,
        [
            _common.target("no-op hooks, % of a request", noop / off * 100, 1.0, at_most=True),
            _common.target("on: hooks, % of a request", hooked / off * 100, 10.0, at_most=True),
            _common.target(
                "on, 10% sampled: hooks, % of a request",
                hooked_sampled / off * 100,
                10.0,
                at_most=True,
            ),
        ],
        notes,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
