"""The command line's --log-format, --log-level, --metrics-port and live traffic row."""

from __future__ import annotations

import argparse
import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from rich.console import Console
from rich.text import Text

import ica_tapis_async as ita
from ica_tapis_async.cli import main
from ica_tapis_async.cli._config import ConfigError
from ica_tapis_async.cli._live_row import LiveProgress
from ica_tapis_async.cli._observe import current_telemetry, observing
from ica_tapis_async.cli._progress import ProgressDisplay
from ica_tapis_async.simulator import Simulator


@pytest.fixture(autouse=True)
def narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ICA variable from the shell; an 80-column terminal, as the CLI tests assume."""
    for name in ("ICA_BASE_URL", "ICA_API_KEY", "ICA_ACCESS_TOKEN", "ICA_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    yield


def _ids(tmp_path: Path, count: int) -> str:
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"fil.{i:032x}\n" for i in range(count)), encoding="utf-8")
    return str(path)


def _args(**values: object) -> argparse.Namespace:
    base: dict[str, object] = {"log_level": "WARNING", "log_format": "text", "metrics_port": None}
    base.update(values)
    return argparse.Namespace(**base)


def test_json_logs_at_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--log-format json --log-level INFO`` prints one JSON object a line with run facts."""
    code = main(
        [
            "link",
            _ids(tmp_path, 30),
            "--simulator",
            "--quiet",
            "--batch-size",
            "10",
            "--log-format",
            "json",
            "--log-level",
            "info",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    entries = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    submitted = [e for e in entries if e.get("batch_id")]
    assert len(submitted) == 3
    assert {e["logger"] for e in submitted} == {"ica_tapis_async.orchestrator"}
    assert all(e["level"] == "INFO" and e["kind"] == "link" for e in submitted)
    # The set-up is the command's: afterwards the package logger is as it was.
    assert logging.getLogger("ica_tapis_async").propagate is True


def test_log_flags_before_the_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flags also work before the subcommand; text lines carry the extras."""
    code = main(["--log-level", "INFO", "link", _ids(tmp_path, 5), "--simulator", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    line = next(x for x in err.splitlines() if "submitted as batch" in x)
    assert line.startswith("INFO ica_tapis_async.orchestrator: chunk 0 of run ")
    assert "kind=link chunk=0 batch_id=" in line


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--log-level", "LOUD"], "unknown log level 'LOUD'"),
        (["--log-format", "xml"], "invalid choice: 'xml'"),
        (["--metrics-port", "70000"], "a port is 0..65535, got 70000"),
        (["--metrics-port", "http"], "not a port number: 'http'"),
    ],
)
def test_bad_observability_flags_exit_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad flag value is a usage error naming the value."""
    assert main(["link", "-", "--simulator", *flags]) == 2
    assert message in capsys.readouterr().err


def test_busy_metrics_port_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port already taken stops the command before it sends anything, naming the port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["link", _ids(tmp_path, 3), "--simulator", "--metrics-port", str(port)])
    assert code == 2
    assert f"--metrics-port {port}: cannot listen" in capsys.readouterr().err


async def test_metrics_port_serves_what_the_clients_record() -> None:
    """While a command runs, /metrics has its requests, durations and the limiter's rate."""
    async with Simulator(seed=1) as sim, observing(_args(metrics_port=0)) as observed:
        assert observed.metrics_port
        limit = ita.RateLimitPolicy(rate=50, burst=5)
        async with ita.IcaClient(
            sim.ica_url, api_key="k", rate_limit=limit, telemetry=current_telemetry()
        ) as ica:
            await ica.data_transfers.list("3f1e8d0a-0000-4000-8000-00000000e001")
            url = f"http://127.0.0.1:{observed.metrics_port}/metrics"
            async with aiohttp.ClientSession() as http, http.get(url) as answer:
                text = await answer.text()
    assert current_telemetry() is None
    assert 'ica_tapis_client_requests_total{http_request_method="GET"' in text
    assert "http_client_request_duration_seconds_count{" in text
    assert 'ica_tapis_limiter_rate_per_second{server_address="127.0.0.1"} 50' in text
    assert "\nhttp_client_active_requests{" in text


async def test_progress_display_shows_the_live_traffic_row() -> None:
    """Under the bars, a traffic line: request rate against the limit, 429s, retries."""
    async with Simulator(seed=2, p_503=0.0) as sim, observing(_args()) as observed:
        live = observed.telemetry.live
        assert live is not None
        async with ita.IcaClient(
            sim.ica_url,
            api_key="k",
            rate_limit=ita.RateLimitPolicy(rate=40, burst=5),
            telemetry=current_telemetry(),
        ) as ica:
            orch = ita.BatchOrchestrator(
                ica, "3f1e8d0a-0000-4000-8000-00000000e001", poll_initial=0.02, poll_max=0.05
            )
            live.throttled()
            live.retried()
            display = ProgressDisplay(Console(file=io.StringIO(), width=80))
            with display:
                assert isinstance(display.progress, LiveProgress)
                assert display.progress.traffic is live
                assert list(display.progress.get_renderables())[1:] == []  # no bars: no line
                display.stage("link", total=2)
                await orch.link(["fil.l1", "fil.l2"])
                lines = list(display.progress.get_renderables())
            assert len(lines) == 2  # the bars' table, then the traffic line
            text = lines[1].plain if isinstance(lines[1], Text) else ""
    assert text.startswith("traffic ")
    assert "req/s (limit 40.0/s)" in text
    assert "429s 1/min" in text
    assert "retries 1/min" in text


async def test_observing_rejects_nothing_it_does_not_need() -> None:
    """Without the flags (a Namespace of another command), defaults apply: WARNING text logs."""
    async with observing(argparse.Namespace()) as observed:
        assert observed.metrics_port is None
        assert logging.getLogger("ica_tapis_async").level == logging.WARNING
    with pytest.raises(ConfigError, match="cannot listen"), socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        async with observing(_args(metrics_port=busy.getsockname()[1])):
            pass
