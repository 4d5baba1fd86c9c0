"""Loads the pytest plugin for the simulator tests when the package is not installed."""

from __future__ import annotations

import pytest

from ica_tapis_async.simulator import pytest_plugin


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin ourselves when its entry point is not installed (plain checkout)."""
    if not config.pluginmanager.is_registered(
        pytest_plugin
    ) and not config.pluginmanager.has_plugin("ica_tapis_async"):
        config.pluginmanager.register(pytest_plugin, "ica_tapis_async")
