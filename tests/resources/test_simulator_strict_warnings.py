"""The simulator and the client on the aiohttp a clean install brings, with warnings as errors."""

from __future__ import annotations

import warnings

import aiohttp
import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

PROJECT = "3f1e8d0a-0000-4000-8000-000000000001"
FAST = ita.RetryPolicy(max_attempts=3, total_timeout=10, initial_backoff=0.01, max_backoff=0.02)


async def test_simulator_answers_under_warnings_as_errors() -> None:
    """Every request path (auth, media negotiation, paging, Tapis) works under -W error.

    aiohttp >= 3.14 warns (NotAppKeyWarning) when a handler stores plain-string request keys;
    as an error that warning would turn each answer into a 500.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with (
            Simulator(seed=5) as sim,
            ita.IcaClient(sim.ica_url, api_key="key", retry=FAST) as ica,
            ita.TapisClient(sim.tapis_url, token="tok", retry=FAST) as tapis,
        ):
            link = await ica.data_linking_batches.create(PROJECT, ["fil.1"])
            assert (await ica.data_linking_batches.get(PROJECT, link.id)).id == link.id
            await ica.data_linking_batches.list_items(PROJECT, link.id).collect()
            await ica.data_transfers.list(PROJECT).collect()
            task = await tapis.transfers.create(
                [ita.ReqTransferElement("tapis://a/x", "tapis://b/x")]
            )
            assert task.uuid is not None
            assert (await tapis.transfers.get(task.uuid)).uuid == task.uuid
            assert ica.metrics.errors == 0
            assert tapis.metrics.errors == 0


def test_the_suite_runs_on_a_current_aiohttp() -> None:
    """No test pins aiohttp below 3.14: the suite runs on what a clean install brings."""
    major, minor = (int(part) for part in aiohttp.__version__.split(".")[:2])
    if (major, minor) < (3, 14):
        pytest.skip(f"aiohttp {aiohttp.__version__} is installed here; 3.14 checks the warning")
    assert hasattr(aiohttp.web, "RequestKey")
