"""Knobs: rate limits, injected faults, latency, determinism, runtime configure, stats."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from ica_tapis_async.simulator import Simulator

from .helpers import KEY, V4, Ica

LINK = {"items": [{"dataId": "fil.f1"}]}


async def test_rate_limit_429_with_retry_after() -> None:
    """Beyond the per-credential budget ICA answers 429 Problems with Retry-After (a slow rate:
    a loaded machine must not refill the bucket between the calls)."""
    async with (
        Simulator(rate_limit=0.1, rate_limit_burst=3, retry_after=2) as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        answers = [await ica.call("GET", "/dataTransfers") for _ in range(5)]
        assert [a[0] for a in answers] == [200, 200, 200, 429, 429]
        status, problem, headers = answers[3]
        assert headers["Retry-After"] == "2"
        assert problem["status"] == 429
        # another credential has its own bucket
        status, _, _ = await ica.call("GET", "/dataTransfers", headers={"X-API-Key": "other"})
        assert status == 200
        assert sim.stats.throttled == 2
        sim.configure(retry_after=None)
        _, _, headers = await ica.call("GET", "/dataTransfers")
        assert "Retry-After" not in headers
        sim.configure(retry_after="auto", rate_limit=0.5, rate_limit_burst=1)
        sim.reset_stats()
        await ica.call("GET", "/dataTransfers", headers={"X-API-Key": "third"})
        status, _, headers = await ica.call("GET", "/dataTransfers", headers={"X-API-Key": "third"})
        assert status == 429
        assert headers["Retry-After"] == "2"


async def test_tapis_rate_limit_off_by_default() -> None:
    """ICA limits do not touch Tapis unless tapis_rate_limit is set (envelope 429 then)."""
    async with Simulator(rate_limit=1, rate_limit_burst=1) as sim, aiohttp.ClientSession() as http:
        url = f"{sim.tapis_url}/v3/files/transfers"
        for _ in range(3):
            async with http.get(url, headers={"X-Tapis-Token": "t"}) as resp:
                assert resp.status == 200
        sim.configure(tapis_rate_limit=1)
        statuses = []
        for _ in range(3):
            async with http.get(url, headers={"X-Tapis-Token": "t"}) as resp:
                statuses.append(resp.status)
                body = await resp.json()
        assert statuses == [200, 429, 429]
        assert body["status"] == "Too Many Requests"
        assert body["metadata"] is None


@pytest.mark.parametrize("kind", ["500", "503"])
async def test_server_error_faults(kind: str) -> None:
    """p_500/p_503 answer Problems (ICA) and envelopes (Tapis) without processing."""
    knob: dict[str, Any] = {f"p_{kind}": 1.0}
    async with Simulator(**knob) as sim, aiohttp.ClientSession() as http:
        status, problem, _ = await Ica(sim, http).call(
            "POST", "/dataLinkingBatch", version=V4, json=LINK
        )
        assert status == int(kind)
        assert problem["status"] == int(kind)
        async with http.get(
            f"{sim.tapis_url}/v3/files/transfers", headers={"X-Tapis-Token": "t"}
        ) as resp:
            assert resp.status == int(kind)
            assert (await resp.json())["result"] is None
        assert sim.stats.faults == {kind: 2}
        assert sim.stats.batches == {}


async def test_drop_before_processing() -> None:
    """p_drop_before closes the connection unanswered; nothing is processed."""
    async with Simulator(p_drop_before=1.0) as sim, aiohttp.ClientSession() as http:
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await Ica(sim, http).call("POST", "/dataLinkingBatch", version=V4, json=LINK)
        assert sim.stats.faults["drop_before"] >= 1
        assert sim.stats.batches == {}
        assert sim.stats.responses_by_status == {}


async def test_drop_after_post_still_processes() -> None:
    """p_drop_after_post processes the POST, then drops: the client never hears of the batch."""
    async with Simulator(p_drop_after_post=1.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await ica.call("POST", "/dataLinkingBatch", version=V4, json=LINK)
        assert sim.stats.batches == {"linking": 1}
        assert sim.stats.faults == {"drop_after_post": 1}
        # GETs are never dropped after processing
        status, _, _ = await ica.call("GET", "/dataTransfers")
        assert status == 200


async def test_drop_after_post_with_idempotency_key_replays() -> None:
    """After a dropped answer, retrying with the same key replays the batch: exactly once."""
    async with Simulator(p_drop_after_post=1.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        body = {
            "cwlItems": [
                {
                    "userReference": "once",
                    "pipelineId": "p",
                    "analysisInput": {"objectType": "JSON", "inputJson": "{}"},
                }
            ]
        }
        key = {"Idempotency-Key": "drop-1"}
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            await ica.call("POST", "/analysisCreationBatch", json=body, headers=key)
        sim.configure(p_drop_after_post=0.0)
        status, _, _ = await ica.call("POST", "/analysisCreationBatch", json=body, headers=key)
        assert status == 201
        assert sim.stats.analyses_by_user_reference == {"once": 1}
        assert sim.stats.idempotent_replays == 1


async def test_slow_responses_and_latency() -> None:
    """p_slow adds slow_s; latency_s applies to every answer."""
    async with Simulator(p_slow=1.0, slow_s=0.2) as sim, aiohttp.ClientSession() as http:
        started = time.monotonic()
        status, _, _ = await Ica(sim, http).call("GET", "/dataTransfers")
        assert status == 200
        assert time.monotonic() - started >= 0.2
        assert sim.stats.faults == {"slow": 1}
        sim.configure(p_slow=0.0, latency_s=0.1)
        started = time.monotonic()
        await Ica(sim, http).call("GET", "/dataTransfers")
        assert time.monotonic() - started >= 0.1


async def test_fault_operations_and_seed_determinism() -> None:
    """Faults can target operations; the same seed gives the same fault sequence."""

    async def run() -> list[int]:
        async with (
            Simulator(seed=42, p_503=0.5, fault_operations={"getDataTransfers"}) as sim,
            aiohttp.ClientSession() as http,
        ):
            ica = Ica(sim, http)
            statuses = [(await ica.call("GET", "/dataTransfers"))[0] for _ in range(20)]
            assert (await ica.call("POST", "/dataLinkingBatch", version=V4, json=LINK))[0] == 201
            return statuses

    first, second = await run(), await run()
    assert first == second
    assert {200, 503} == set(first)


async def test_stats_endpoint_and_reset() -> None:
    """GET /_simulator/stats returns the counters; reset_stats zeroes them."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        await ica.call("POST", "/dataLinkingBatch", version=V4, json=LINK)
        await ica.call("GET", "/dataTransfers", headers={"X-API-Key": ""})
        async with http.get(f"{sim.base_url}/_simulator/stats") as resp:
            stats = await resp.json()
        assert stats["requests"] == 2
        assert stats["requests_by_operation"] == {
            "createProjectDataLinkingBatch": 1,
            "getDataTransfers": 1,
        }
        assert stats["responses_by_status"] == {"201": 1, "401": 1}
        assert stats["batches"] == {"linking": 1}
        assert stats["items"] == {"linking": 1}
        assert stats["analyses_created"] == 0
        async with http.get(f"{sim.base_url}/_simulator/config") as resp:
            config = await resp.json()
        assert config["transfers_per_project"] == 25
        held = sim.stats
        sim.reset_stats()
        assert held.requests == 0
        assert sim.stats is held


async def test_configure_validates() -> None:
    """configure rejects unknown or invalid knobs and keeps the old config."""
    async with Simulator() as sim:
        with pytest.raises(TypeError):
            sim.configure(no_such_knob=1)
        with pytest.raises(ValueError):
            sim.configure(p_503=1.5)
        assert sim.config.p_503 == 0.0
        assert "secret" in repr(sim.configure(api_keys={KEY}))
        assert KEY not in repr(sim.config)


def test_fault_sequences_are_per_operation() -> None:
    """The n-th request of an operation meets the same fault however others interleave."""
    from ica_tapis_async.simulator._config import SimulatorConfig
    from ica_tapis_async.simulator._faults import FaultInjector

    config = SimulatorConfig(p_503=0.3, p_drop_after_post=0.3)
    alone, mixed = FaultInjector(5), FaultInjector(5)
    first = [
        (alone.before(config, "create"), alone.drop_after(config, "create")) for _ in range(50)
    ]
    second = []
    for i in range(50):
        for _ in range(i % 3):  # other operations' requests in between
            mixed.before(config, "get")
        second.append((mixed.before(config, "create"), mixed.drop_after(config, "create")))
    assert first == second
    assert any(before == "503" for before, _ in first)
    assert any(drop for _, drop in first)


async def test_a_client_gone_mid_body_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    """A worker killed while sending a body: the simulator logs no traceback, serves on."""
    import asyncio
    from urllib.parse import urlsplit

    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        target = urlsplit(ica.url("/dataLinkingBatch"))
        _reader, writer = await asyncio.open_connection(target.hostname, target.port)
        writer.write(
            f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nX-API-Key: {KEY}\r\n"
            f"Accept: {V4}\r\nContent-Type: {V4}\r\nContent-Length: 1000\r\n\r\n"
            '{"items": ['.encode()
        )
        await writer.drain()
        await asyncio.sleep(0.1)  # the handler is reading the body
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.1)
        status, _, _ = await ica.call("POST", "/dataLinkingBatch", version=V4, json=LINK)
        assert status == 201
    assert not [r for r in caplog.records if r.levelno >= 30], caplog.text
