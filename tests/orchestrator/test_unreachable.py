"""An unreachable server before any create was sent: every item NOT_SUBMITTED with one "cannot
reach" message, never IN_DOUBT, however often the run is repeated while the server is down;
once it is up the journaled run sends everything once (issue 19, point 9)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, MemoryJournal
from ica_tapis_async.simulator import Simulator

from .helpers import nextflow, orchestrator

QUICK = ita.RetryPolicy(max_attempts=3, total_timeout=10, initial_backoff=0.01, max_backoff=0.02)
#: Retries that outlast ``unreachable_after=0.2``: the client declares the server down.
PATIENT = ita.RetryPolicy(
    max_attempts=100, total_timeout=30, initial_backoff=0.02, max_backoff=0.05
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_journal(backend: str, tmp_path: Path) -> str | Path | Journal:
    return tmp_path / "down.sqlite" if backend == "sqlite" else MemoryJournal()


async def _link(url: str, journal: object, ids: list[str], **client: object) -> ita.BatchReport:
    async with ita.IcaClient(url, api_key="key-1", **client) as ica:  # type: ignore[arg-type]
        orch = orchestrator(ica, journal=journal, batch_size=10)
        return await orch.link(ids)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_down_server_is_not_submitted_until_it_is_up(backend: str, tmp_path: Path) -> None:
    await down_until_up(make_journal(backend, tmp_path))


async def down_until_up(journal: object) -> None:
    """Three runs against a closed port, then the server comes up on it (also run by
    ``tests/scaleout`` on a PostgreSQL journal)."""
    port = closed_port()
    base = f"http://127.0.0.1:{port}/ica/rest"
    ids = [f"fil.d{i}" for i in range(30)]
    for client in (
        {"retry": QUICK, "unreachable_after": None},  # connection refused past the retries
        {"retry": QUICK, "unreachable_after": None},  # again: still never sent
        {"retry": PATIENT, "unreachable_after": 0.2},  # the client gives up on the server
    ):
        report = await _link(base, journal, ids, **client)
        assert report.counts == {"NOT_SUBMITTED": 30}, {o.info for o in report.failures}
        infos = {o.info for o in report.failures}
        assert len(infos) == 1, infos
        (info,) = infos
        assert info is not None
        assert info.startswith("cannot reach "), info
        assert base in info
        assert not any(o.resubmitted for o in report.failures)
    async with Simulator(seed=3, port=port) as sim:
        report = await _link(sim.ica_url, journal, ids, retry=QUICK)
    assert report.counts == {"LINKED": 30}
    assert set(sim.stats.link_submissions.values()) == {1}


async def test_a_tls_mismatch_is_not_submitted(sim: Simulator) -> None:
    """https:// to a plain-HTTP server: the handshake fails, nothing was sent."""
    url = sim.ica_url.replace("http://", "https://")
    async with ita.IcaClient(url, api_key="key-1", retry=QUICK, unreachable_after=None) as ica:
        report = await orchestrator(ica, batch_size=5).create_analyses(
            [nextflow(f"t-{i}") for i in range(10)]
        )
    assert report.counts == {"NOT_SUBMITTED": 10}
    (info,) = {o.info for o in report.failures}
    assert info is not None
    assert info.startswith("cannot reach ")
    assert "SSL" in info
    assert sim.stats.batches.get("analysis", 0) == 0
