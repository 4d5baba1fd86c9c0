"""The CLI, the pytest plugin fixtures, the threaded form, and the config object."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import urllib.request

import aiohttp
import pytest

from ica_tapis_async.simulator import Simulator, SimulatorConfig, SimulatorStats
from ica_tapis_async.simulator.__main__ import build_parser, main


async def test_cli_prints_urls_and_serves() -> None:
    """`python -m ica_tapis_async.simulator --port 0` prints its URLs and serves until SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ica_tapis_async.simulator",
        "--port",
        "0",
        "--seed",
        "3",
        "--p-503",
        "0",
        "--latency",
        "0",
        "--api-keys",
        "cli-key",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ica_line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        tapis_line = (await asyncio.wait_for(process.stdout.readline(), 5)).decode()
        match = re.fullmatch(r"ICA: (http://127\.0\.0\.1:(\d+)/ica/rest)\n", ica_line)
        assert match, ica_line
        assert tapis_line == f"Tapis: http://127.0.0.1:{match.group(2)}\n"
        async with aiohttp.ClientSession() as http:
            url = match.group(1) + "/api/tokens"
            async with http.post(
                url, headers={"X-API-Key": "cli-key", "Accept": "application/vnd.illumina.v3+json"}
            ) as resp:
                assert resp.status == 200
            async with http.post(
                url, headers={"X-API-Key": "wrong", "Accept": "application/vnd.illumina.v3+json"}
            ) as resp:
                assert resp.status == 401
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0


def test_cli_flags_map_to_config() -> None:
    """Every config field has a flag; seconds fields have short aliases; bad values exit 2."""
    args = vars(
        build_parser().parse_args(
            [
                "--rate-limit",
                "50",
                "--p-503",
                "0.05",
                "--latency",
                "0.1",
                "--no-strict-accept",
                "--api-keys",
                "a,b",
                "--retry-after",
                "auto",
                "--rate-limit-burst",
                "none",
            ]
        )
    )
    args.pop("realistic"), args.pop("access_log")
    config = SimulatorConfig(**args)
    assert config.rate_limit == 50
    assert config.p_503 == 0.05
    assert config.latency_s == 0.1
    assert config.strict_accept is False
    assert config.api_keys == frozenset({"a", "b"})
    assert config.retry_after == "auto"
    assert config.rate_limit_burst is None
    assert main(["--p-503", "2"]) == 2


def test_config_defaults_and_realistic() -> None:
    """Defaults are fast and fault-free; realistic() is slower; invalid values are refused."""
    config = SimulatorConfig()
    assert config.transfers_per_project == 25
    assert config.max_page_size == 1000
    assert config.rate_limit is None
    assert config.tapis_rate_limit is None
    assert config.max_linking_items == 100_000
    assert config.max_update_data_ids == 100_000
    assert config.idempotency_ttl_s == 7 * 86400
    slow = SimulatorConfig.realistic(seed=9)
    assert slow.step_s > config.step_s
    assert slow.seed == 9
    with pytest.raises(ValueError):
        SimulatorConfig(item_rate=0)
    assert SimulatorStats().to_dict()["analyses_created"] == 0


@pytest.mark.ica_simulator(rate_limit=50, p_503=0.05)
async def test_fixture_with_marker(ica_simulator: Simulator) -> None:
    """The ica_simulator fixture runs a simulator configured by the marker."""
    assert ica_simulator.config.rate_limit == 50
    assert ica_simulator.config.p_503 == 0.05
    assert ica_simulator.ica_url == f"http://127.0.0.1:{ica_simulator.port}/ica/rest"
    assert ica_simulator.tapis_url == f"http://127.0.0.1:{ica_simulator.port}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(ica_simulator.base_url + "/_simulator/stats") as resp,
    ):
        assert resp.status == 200


class TestConfigOverride:
    """A test class may override ica_simulator_config."""

    @pytest.fixture
    def ica_simulator_config(self) -> SimulatorConfig:
        """Base knobs for this class."""
        return SimulatorConfig(seed=5, transfers_per_project=3)

    @pytest.mark.ica_simulator(seed=6)
    async def test_override_and_marker(self, ica_simulator: Simulator) -> None:
        """The marker applies on top of the overridden config."""
        assert ica_simulator.config.transfers_per_project == 3
        assert ica_simulator.config.seed == 6


@pytest.mark.ica_simulator(api_keys={"sync-key"})
def test_threaded_fixture(ica_simulator_thread: Simulator) -> None:
    """ica_simulator_thread serves synchronous clients from a background thread."""
    request = urllib.request.Request(
        ica_simulator_thread.ica_url + "/api/tokens",
        method="POST",
        headers={"X-API-Key": "sync-key", "Accept": "application/vnd.illumina.v3+json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200
    assert ica_simulator_thread.stats.tokens_issued == 1


async def test_start_twice_and_stopped_port() -> None:
    """Starting twice is an error; the port is unknown when stopped."""
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.port
    async with sim:
        with pytest.raises(RuntimeError):
            await sim.start()
        assert "Simulator at http://127.0.0.1" in repr(sim)


def test_faithful_flag_sets_the_profile_and_later_flags_override() -> None:
    """--faithful is the profile's knobs as flags: no extra key, explicit flags win."""
    args = vars(
        build_parser().parse_args(["--unknown-fields", "--faithful", "--count-error", "0.1"])
    )
    args.pop("realistic"), args.pop("access_log")
    config = SimulatorConfig(**args)
    assert config == SimulatorConfig.faithful(count_error=0.1)
    kept = vars(build_parser().parse_args(["--no-unknown-fields", "--faithful"]))
    assert kept["unknown_fields"] is False
    assert main(["--faithful", "--count-error", "3"]) == 2
