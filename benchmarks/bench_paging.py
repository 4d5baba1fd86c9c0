"""Paging: items per second turned from 1,000-item page bodies into models.

Three decoders of the same V4 linking-batch item page (1,000 items of about 2.5 KB):

- ours: ``orjson.loads`` + our converter into ``ProjectDataLinkingBatchItemPagedListV4`` (what
  ``list_items`` does with every page),
- raw orjson: ``orjson.loads`` only (dicts, no models, no checks): the ceiling,
- libica 3.3: ``orjson.loads`` + pydantic ``model_validate`` of libica's page model.

Pure CPU, no server. Each decoder runs in its own process that imports only its own library, so
that the garbage collector, which is on as in real programs, sees the heap a real user of that
library would have (libica's import alone is large and slows every full collection). A second
column shows each decoder's own cost with the collector paused.

Target: ours >= 0.4x raw orjson.

    python benchmarks/bench_paging.py --pages 10 --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import _common
import orjson

PAGE_SIZE = 1000
DECODERS = {
    "ours": "ours (orjson + cattrs models)",
    "raw": "raw orjson (dicts)",
    "libica": "libica 3.3 (pydantic model_validate)",
}


def decoder(name: str) -> Callable[[bytes], Any]:
    """The decoder ``name``, importing only what it needs."""
    if name == "ours":
        from ica_tapis_async._converter import structure
        from ica_tapis_async.models import ProjectDataLinkingBatchItemPagedListV4 as Page

        return lambda body: structure(orjson.loads(body), Page)
    if name == "libica":
        from libica.openapi.v3.models import (  # type: ignore[import-untyped]
            ProjectDataLinkingBatchItemPagedListV4 as LibicaPage,
        )

        return lambda body: LibicaPage.model_validate(orjson.loads(body))
    return orjson.loads


def rate(decode: Callable[[bytes], Any], body: bytes, pages: int, *, paused: bool) -> float:
    """Items per second for ``pages`` decodes of ``body``, from a freshly collected heap."""
    gc.collect()
    if paused:
        gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(pages):
            decode(body)
        return pages * PAGE_SIZE / (time.perf_counter() - started)
    finally:
        gc.enable()


def child(name: str, pages: int, repeat: int) -> None:
    """Measure one decoder; print its rates as JSON."""
    body = orjson.dumps(_common.linking_page(PAGE_SIZE))
    decode = decoder(name)
    decode(body)  # warm up: hook generation, pydantic schema build
    found: dict[str, list[float]] = {"on": [], "paused": []}
    for _ in range(repeat):
        found["on"].append(rate(decode, body, pages, paused=False))
        found["paused"].append(rate(decode, body, pages, paused=True))
    print(json.dumps({**found, "bytes": len(body)}))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three decoders; print the table and the ratios; 0 when the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10, help="pages per measurement")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per decoder (best)")
    parser.add_argument("--decoder", choices=sorted(DECODERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.decoder:
        child(args.decoder, args.pages, args.repeat)
        return 0

    results: dict[str, dict[str, Any]] = {}
    for name in DECODERS:
        command = [sys.executable, __file__, "--decoder", name]
        command += ["--pages", str(args.pages), "--repeat", str(args.repeat)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[name] = json.loads(done.stdout)
    best = {name: max(r["on"]) for name, r in results.items()}
    paused = {name: max(r["paused"]) for name, r in results.items()}
    rows = [
        (
            label,
            best[name],
            statistics.median(results[name]["on"]),
            f"{1e6 / best[name]:,.1f}",
            f"{1e6 / paused[name]:,.1f}",
        )
        for name, label in DECODERS.items()
    ]
    text = _common.table(
        ["decoder", "items/s (best)", "items/s (median)", "µs/item", "µs/item, GC paused"], rows
    )
    text += (
        f"\n\npage: {PAGE_SIZE:,} items, {results['raw']['bytes'] / 1e6:.2f} MB; best of "
        f"{args.repeat} runs of {args.pages} pages, each decoder in its own process"
    )
    ok = _common.report(
        "Paging: 1,000-item pages into models",
        text,
        [
            _common.target("ours / raw orjson", best["ours"] / best["raw"], 0.4),
            (f"ours / libica: {best['ours'] / best['libica']:,.2f}x", True),
            (
                "with the collector paused: ours / raw orjson "
                f"{paused['ours'] / paused['raw']:.2f}, ours / libica "
                f"{paused['ours'] / paused['libica']:.2f}x",
                True,
            ),
        ],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
