"""pytest plugin (entry point ``pytest11``): the ``ica_simulator`` fixture for users' test suites.

Knobs come from the ``ica_simulator_config`` fixture (override it in a conftest.py) and, on top,
from the ``ica_simulator`` marker::

    @pytest.mark.asyncio  # not needed with asyncio_mode = "auto"
    @pytest.mark.ica_simulator(rate_limit=50, p_503=0.05)
    async def test_my_job(ica_simulator):
        async with ita.IcaClient(ica_simulator.ica_url, api_key="key") as ica:
            report = await ita.BatchOrchestrator(ica, "project").link(["fil.1"])
        assert report.ok

``ica_simulator`` is an async fixture: async tests need pytest-asyncio (strict mode, its default,
wants the ``asyncio`` marker). ``ica_simulator_thread`` runs the same
server in a background thread for synchronous tests (libica, tapipy).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ._config import SimulatorConfig
from ._server import Simulator

__all__ = (
    "ica_simulator_config",
    "ica_simulator_thread",
    "pytest_configure",
)

MARKER = "ica_simulator"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``ica_simulator`` marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**knobs): SimulatorConfig fields for the ica_simulator fixtures of this test",
    )


@pytest.fixture
def ica_simulator_config() -> SimulatorConfig:
    """The base knobs of the ``ica_simulator`` fixtures; override it to change every test's."""
    return SimulatorConfig()


def _configured(request: pytest.FixtureRequest, base: SimulatorConfig) -> SimulatorConfig:
    """``base`` with the knobs of every ``ica_simulator`` marker (closest marker wins)."""
    knobs: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        if marker.args:
            raise TypeError("@pytest.mark.ica_simulator takes keyword arguments only")
        knobs.update(marker.kwargs)
    return base.evolve(**knobs) if knobs else base


if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture(name="ica_simulator")
    async def ica_simulator_async(
        request: pytest.FixtureRequest, ica_simulator_config: SimulatorConfig
    ) -> AsyncIterator[Simulator]:
        """A running simulator in the test's event loop, configured by the marker."""
        async with Simulator(_configured(request, ica_simulator_config)) as simulator:
            yield simulator

else:  # pragma: no cover - pytest-asyncio is in the test extras

    @pytest.fixture(name="ica_simulator")
    def ica_simulator_sync(
        request: pytest.FixtureRequest, ica_simulator_config: SimulatorConfig
    ) -> Iterator[Simulator]:
        """A running simulator (in a background thread: pytest-asyncio is not installed)."""
        with Simulator(_configured(request, ica_simulator_config)) as simulator:
            yield simulator


@pytest.fixture
def ica_simulator_thread(
    request: pytest.FixtureRequest, ica_simulator_config: SimulatorConfig
) -> Iterator[Simulator]:
    """A running simulator served from a background thread, for synchronous tests."""
    with Simulator(_configured(request, ica_simulator_config)) as simulator:
        yield simulator
