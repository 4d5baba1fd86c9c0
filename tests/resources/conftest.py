"""Fixtures for the resource tests: clients on a fake transport (payloads are in helpers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import (
    API_KEY,
    ICA,
    TAPIS,
    TAPIS_TOKEN,
)


@pytest.fixture
def http() -> FakeTransport:
    """A fake transport: clients built with ``transport=http`` get its registered answers."""
    return FakeTransport()


@pytest.fixture
async def ica(http: FakeTransport) -> AsyncIterator[ita.IcaClient]:
    """An ICA client over the fake transport, with an API key and retries that do not wait."""
    policy = ita.RetryPolicy.no_wait()
    async with ita.IcaClient(ICA, api_key=API_KEY, retry=policy, transport=http) as client:
        yield client


@pytest.fixture
async def tapis(http: FakeTransport) -> AsyncIterator[ita.TapisClient]:
    """A Tapis client over the fake transport, with retries that do not wait."""
    policy = ita.RetryPolicy.no_wait()
    async with ita.TapisClient(TAPIS, token=TAPIS_TOKEN, retry=policy, transport=http) as client:
        yield client
