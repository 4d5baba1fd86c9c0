"""Per request: one V4 linking-batch item fetched and turned into a model, three ways.

All three clients hit the same static server on 127.0.0.1 (a canned HTTP/1.1 keep-alive
answer served from a child process, so the server's CPU is not the client's), which returns a
realistic 2.5 KB ``ProjectDataLinkingBatchItemV4`` (createdProjectData, Data and DataDetails
filled in):

- ours: ``ica.data_linking_batches.get_item`` (request building, auth, limiter, retry loop,
  error mapping, model), no rate limit, ``--concurrency`` coroutines,
- raw aiohttp + orjson: ``session.get`` + ``orjson.loads`` (no model), same concurrency,
- libica 3.3: its synchronous client driven by a thread pool of ``--concurrency`` threads.

Targets: ours >= 0.8x raw aiohttp and >= 3x libica, in requests per second.

    python benchmarks/bench_requests.py --requests 5000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import _common
import aiohttp
import orjson

import ica_tapis_async as ita

V4 = "application/vnd.illumina.v4+json"


async def _drive(call: Callable[[], Awaitable[object]], requests: int, concurrency: int) -> float:
    """Requests per second for ``requests`` calls, ``concurrency`` at a time."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


async def ours(base: str, requests: int, concurrency: int, repeat: int) -> list[float]:
    """``get_item`` through an ``IcaClient`` with no rate limit."""
    policy = ita.RateLimitPolicy(rate=None, max_in_flight=None, adaptive=False)
    async with ita.IcaClient(
        base, api_key="bench-key", rate_limit=policy, max_connections=concurrency
    ) as ica:
        resource = ica.data_linking_batches

        async def call() -> object:
            item = await resource.get_item(_common.PROJECT_ID, _common.BATCH_ID, _common.ITEM_ID)
            assert item.processing.status == "LINKED"
            return item

        await _drive(call, min(requests, 500), concurrency)  # warm up
        return [await _drive(call, requests, concurrency) for _ in range(repeat)]


async def raw(base: str, requests: int, concurrency: int, repeat: int) -> list[float]:
    """Plain ``aiohttp`` + ``orjson``: the floor of what an asyncio client can cost."""
    url = (
        f"{base}/api/projects/{_common.PROJECT_ID}/dataLinkingBatch/{_common.BATCH_ID}"
        f"/items/{_common.ITEM_ID}"
    )
    headers = {"Accept": V4, "X-API-Key": "bench-key"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> object:
            async with session.get(url, headers=headers) as response:
                response.raise_for_status()
                data = orjson.loads(await response.read())
            assert data["processing"]["status"] == "LINKED"
            return data

        await _drive(call, min(requests, 500), concurrency)
        return [await _drive(call, requests, concurrency) for _ in range(repeat)]


def libica(base: str, requests: int, concurrency: int, repeat: int) -> list[float]:
    """libica's generated synchronous client, one call per thread-pool task."""
    from libica.openapi.v3 import ApiClient, Configuration  # type: ignore[import-untyped]
    from libica.openapi.v3.api.project_data_linking_batch_api import (  # type: ignore[import-untyped]
        ProjectDataLinkingBatchApi,
    )

    config = Configuration(host=base, api_key={"ApiKeyAuth": "bench-key"})
    config.connection_pool_maxsize = concurrency
    api = ProjectDataLinkingBatchApi(ApiClient(config))

    def call(_: int) -> object:
        item = api.get_project_data_linking_batch_item(
            _common.PROJECT_ID,
            _common.BATCH_ID,
            _common.ITEM_ID,
            _headers={"Accept": V4},
        )
        assert item.processing.status == "LINKED"
        return item

    rates = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, range(min(requests, 200))))  # warm up
        for _ in range(repeat):
            started = time.perf_counter()
            list(pool.map(call, range(requests)))
            rates.append(requests / (time.perf_counter() - started))
    return rates


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three clients; print the table and the ratios; 0 when the targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per measurement")
    parser.add_argument(
        "--libica-requests",
        type=int,
        default=2000,
        help="requests per measurement for libica (it is slower)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per client (best)")
    args = parser.parse_args(argv)

    body = orjson.dumps(_common.linking_item(0))
    with _common.StaticServer(body, V4) as port:
        base = f"http://127.0.0.1:{port}/ica/rest"
        results = {
            "ours: get_item (request + model)": asyncio.run(
                ours(base, args.requests, args.concurrency, args.repeat)
            ),
            "raw aiohttp + orjson (no model)": asyncio.run(
                raw(base, args.requests, args.concurrency, args.repeat)
            ),
            "libica 3.3 + thread pool": libica(
                base, args.libica_requests, args.concurrency, args.repeat
            ),
        }
    best = {name: max(rates) for name, rates in results.items()}
    mine, floor, vendor = best.values()
    rows = [
        (name, max(rates), sorted(rates)[len(rates) // 2], f"{1e6 / max(rates):,.0f}")
        for name, rates in results.items()
    ]
    text = _common.table(["client", "req/s (best)", "req/s (median)", "µs/request"], rows)
    text += (
        f"\n\nitem body {len(body):,} bytes; {args.concurrency} in flight; "
        f"{args.requests:,} requests per run (libica {args.libica_requests:,}), "
        f"best of {args.repeat} runs"
    )
    ok = _common.report(
        "Per request: get_item vs raw aiohttp vs libica",
        text,
        [
            _common.target("ours / raw aiohttp", mine / floor, 0.8),
            _common.target("ours / libica", mine / vendor, 3.0),
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
