"""Serving a registry in the Prometheus text format over HTTP, for a scraper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from ._registry import MetricsRegistry

__all__ = ("CONTENT_TYPE", "serve_metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@asynccontextmanager
async def serve_metrics(
    registry: MetricsRegistry, port: int, host: str = "127.0.0.1"
) -> AsyncIterator[int]:
    """Serve ``registry`` at ``http://host:port/metrics`` while the block runs.

    Args:
        port: the port to listen on; 0 picks a free one.
        host: the interface; the loopback one by default, so a metrics port is not opened to
            the network by accident.

    Yields:
        The port actually bound.

    Raises:
        OSError: the port cannot be bound (in use, or not allowed).
    """

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
