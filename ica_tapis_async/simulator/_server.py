"""Simulator: runs the app on 127.0.0.1, in the caller's event loop or in a background thread."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from aiohttp import web

from ._app import ICA_PREFIX, build_app
from ._config import SimulatorConfig
from ._sim_state import SimState
from ._stats import SimulatorStats

__all__ = ("Simulator",)


class Simulator:
    """An embedded ICA + Tapis server for tests, examples, benchmarks and demos.

    Use ``async with Simulator(rate_limit=50) as sim:`` inside an event loop, or
    ``with Simulator() as sim:`` from synchronous code (the server then runs in a background
    thread with its own loop, e.g. for libica or tapipy).

    Args:
        config: the knobs; defaults to ``SimulatorConfig()`` (fast timings, no faults).
        **overrides: fields of :class:`SimulatorConfig` to change on top of ``config``.

    Raises:
        TypeError / ValueError: for an unknown or invalid knob.
    """

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else SimulatorConfig()
        self._state = SimState(base.evolve(**overrides) if overrides else base)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.access_log = False

    # --- knobs and audit -----------------------------------------------------------------------
    @property
    def config(self) -> SimulatorConfig:
        """The current knobs."""
        return self._state.config

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Change knobs while running (e.g. ``sim.configure(p_503=0.0)``); returns the new config.

        ``host`` and ``port`` only take effect on the next start.
        """
        config = self._state.config.evolve(**changes)
        self._state.configure(config)
        return config

    @property
    def stats(self) -> SimulatorStats:
        """The live audit counters (also at ``GET /_simulator/stats``)."""
        return self._state.stats

    def reset_stats(self) -> None:
        """Zero every counter, and refill every rate-limit bucket."""
        self._state.stats.reset()
        self._state.limiter.reset()

    def advance_clock(self, seconds: float) -> None:
        """Move the simulated clock forward: batches progress, JWTs and idempotency keys expire."""
        self._state.clock.advance(seconds)

    def now(self) -> float:
        """The simulated time (epoch seconds)."""
        return self._state.now()

    def data(self, data_id: str) -> dict[str, Any]:
        """The Data object ``data_id`` as the simulated store holds it now (tags, dates)."""
        self._state.settle()
        return self._state.payloads.data(data_id)

    def links(self, project_id: str) -> frozenset[str]:
        """The data ids linked to ``project_id`` so far (by linking items already finished)."""
        self._state.settle()
        return self._state.store.links(project_id)

    # --- addresses -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port (known once started)."""
        if self._port is None:
            raise RuntimeError("the simulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def ica_url(self) -> str:
        """Base URL of the ICA API, ``http://127.0.0.1:PORT/ica/rest``."""
        return self.base_url + ICA_PREFIX

    @property
    def tapis_url(self) -> str:
        """Base URL of Tapis (paths are ``/v3/files/transfers...``)."""
        return self.base_url

    # --- life cycle in the current loop --------------------------------------------------------
    async def start(self) -> None:
        """Start serving (port 0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        app = build_app(self._state)
        if self.access_log:
            runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False)
        else:
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- life cycle in a background thread -----------------------------------------------------
    def start_in_thread(self) -> None:
        """Start serving from a daemon thread with its own event loop (for synchronous code)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        thread = threading.Thread(target=run, name="ica-simulator", daemon=True)
        thread.start()
        ready.wait()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=30)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            raise
        self._loop, self._thread = loop, thread

    def stop_thread(self) -> None:
        """Stop a simulator started with :meth:`start_in_thread`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._loop = self._thread = None

    def __enter__(self) -> Simulator:
        self.start_in_thread()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    def __repr__(self) -> str:
        where = f" at {self.base_url}" if self._port is not None else ""
        return f"<Simulator{where} seed={self.config.seed}>"
