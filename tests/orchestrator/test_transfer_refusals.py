"""TransferOrchestrator when the server refuses the credentials or cannot be reached (issue 19,
point 9, as for batches): a token expiring mid-run returns the report of what was done and
stays resumable; a server that is down reports every request NOT_CREATED with one "cannot
reach" message, never UNKNOWN; either way a later run creates each task once."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, MemoryJournal
from ica_tapis_async.simulator import Simulator

from .helpers import eventually
from .test_transfers import request

QUICK = ita.RetryPolicy(max_attempts=3, total_timeout=10, initial_backoff=0.01, max_backoff=0.02)
FEW = ita.RetryPolicy(max_attempts=2, initial_backoff=0.001, max_backoff=0.001)
#: Retries that outlast ``unreachable_after=0.2``: the client declares the server down.
PATIENT = ita.RetryPolicy(
    max_attempts=100, total_timeout=30, initial_backoff=0.02, max_backoff=0.05
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tapis_jwt(serial: int) -> str:
    """A JWT-shaped token of the one user ``alice`` (the simulator reads its claims): a
    renewed token sees the tasks of the expired one."""
    claims = {"tapis/username": "alice", "tapis/tenant_id": "dev", "jti": str(serial)}
    header = _b64(json.dumps({"alg": "none"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(b'sig')}"


TOK_1, TOK_2 = tapis_jwt(1), tapis_jwt(2)


def make_journal(backend: str, tmp_path: Path) -> Journal | Path:
    return tmp_path / "transfers.sqlite" if backend == "sqlite" else MemoryJournal()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _run(
    url: str, token: str, journal: object, requests: list[ita.TransferRequest],
    run_id: str = "edge", **client: object,
) -> ita.TransferReport:  # fmt: skip
    async with ita.TapisClient(url, token=token, **client) as tapis:  # type: ignore[arg-type]
        orch = ita.TransferOrchestrator(tapis, journal=journal, run_id=run_id, poll_initial=0.02)  # type: ignore[arg-type]
        with anyio.fail_after(60):
            report = await orch.run(requests)
        await orch.aclose()
        return report


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_token_expiring_mid_run_returns_the_report_and_resumes(
    backend: str, tmp_path: Path
) -> None:
    """The token is revoked once four tasks exist: the report comes back (tasks being followed
    UNKNOWN with their uuid, requests not created NOT_CREATED naming the refused credentials),
    and a run with a new token creates each remaining task once and follows the others."""
    journal = make_journal(backend, tmp_path)
    requests = [request(i) for i in range(12)]
    async with Simulator(seed=7, tapis_tokens={TOK_1}, tapis_step_s=0.2) as sim:
        revoked: list[bool] = []

        def expire_midway(progress: ita.Progress) -> None:
            if not revoked and progress.submitted >= 4:
                revoked.append(True)
                sim.configure(tapis_tokens={TOK_2})  # tok-1 no longer accepted

        async with ita.TapisClient(sim.tapis_url, token=TOK_1, retry=QUICK) as tapis:
            orch = ita.TransferOrchestrator(
                tapis, journal=journal, run_id="token", max_in_flight=3,
                progress=expire_midway, poll_initial=0.02, poll_max=0.1,
            )  # fmt: skip
            with anyio.fail_after(60):
                first = await orch.run(requests)
            await orch.aclose()
        assert revoked
        assert len(first.outcomes) == 12
        assert set(first.counts) <= {"COMPLETED", "NOT_CREATED", "UNKNOWN"}, first.counts
        assert first.counts.get("NOT_CREATED", 0) >= 1, first.counts
        assert first.counts.get("UNKNOWN", 0) >= 1, first.counts
        created = sim.stats.tapis_tasks
        assert 4 <= created < 12
        for outcome in first.failures:
            why = outcome.error_message or ""
            assert "401" in why, why
            assert "refused the run's credentials" in why, why
            # Followed tasks keep their uuid; requests not created have none.
            assert (outcome.uuid is not None) == (outcome.status == "UNKNOWN"), outcome
        assert sum(o.uuid is not None for o in first.outcomes) == created

        async with ita.TapisClient(sim.tapis_url, token=TOK_2, retry=QUICK) as tapis:
            orch = ita.TransferOrchestrator(
                tapis, journal=journal, run_id="token", poll_initial=0.02
            )
            with anyio.fail_after(60):
                again = await orch.run(requests)
            await orch.aclose()
    assert again.counts == {"COMPLETED": 12}
    assert sim.stats.tapis_tasks == 12  # each created once
    assert not any(o.recovered for o in again.outcomes)
    kept = {o.index: o.uuid for o in first.outcomes if o.uuid is not None}
    assert all(again.outcomes[i].uuid == uuid for i, uuid in kept.items())


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_credentials_refused_from_the_start_raise(backend: str, tmp_path: Path) -> None:
    """A 401 before the server answered anything else: AuthenticationError, nothing created;
    a run with good credentials then creates each task once."""
    journal = make_journal(backend, tmp_path)
    requests = [request(i) for i in range(5)]
    async with Simulator(seed=8, tapis_tokens={"good"}) as sim:
        with pytest.raises(ita.AuthenticationError):
            await _run(sim.tapis_url, "bad", journal, requests, retry=QUICK)
        assert sim.stats.tapis_tasks == 0
        report = await _run(sim.tapis_url, "good", journal, requests, retry=QUICK)
    assert report.counts == {"COMPLETED": 5}
    assert sim.stats.tapis_tasks == 5
    assert sim.stats.requests_by_operation.get("getRecentTransferTasks", 0) == 0


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_down_server_is_not_created_until_it_is_up(backend: str, tmp_path: Path) -> None:
    """Three runs against a closed port, then the server comes up on it: NOT_CREATED with one
    "cannot reach" message each time (never UNKNOWN), then each task created once, without
    looking for tags of creates that never left."""
    journal = make_journal(backend, tmp_path)
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    requests = [request(i) for i in range(6)]
    for client in (
        {"retry": QUICK, "unreachable_after": None},  # connection refused past the retries
        {"retry": QUICK, "unreachable_after": None},  # again: still never sent
        {"retry": PATIENT, "unreachable_after": 0.2},  # the client gives up on the server
    ):
        report = await _run(base, "t", journal, requests, **client)
        assert report.counts == {"NOT_CREATED": 6}, {o.error_message for o in report.failures}
        (info,) = {o.error_message for o in report.failures}
        assert info is not None
        assert info.startswith("cannot reach "), info
        assert base in info
        assert all(o.uuid is None and not o.recovered for o in report.outcomes)
    async with Simulator(seed=9, port=port) as sim:
        report = await _run(sim.tapis_url, "t", journal, requests, retry=QUICK)
    assert report.counts == {"COMPLETED": 6}
    assert sim.stats.tapis_tasks == 6
    assert sim.stats.requests_by_operation.get("getRecentTransferTasks", 0) == 0


async def test_a_tls_mismatch_is_not_created(sim: Simulator) -> None:
    """https:// to a plain-HTTP server: the handshake fails, nothing was sent."""
    url = sim.tapis_url.replace("http://", "https://")
    report = await _run(url, "t", None, [request(i) for i in range(3)], retry=QUICK)
    assert report.counts == {"NOT_CREATED": 3}
    (info,) = {o.error_message for o in report.failures}
    assert info is not None
    assert info.startswith("cannot reach "), info
    assert "SSL" in info
    assert sim.stats.tapis_tasks == 0


async def test_a_refused_run_never_calls_a_sent_request_not_created() -> None:
    """A killed run's creates may exist (answers lost, tag look-ups failed: UNKNOWN); a run
    with a bad token raises and takes nothing back; a run with a good one adopts each task."""
    journal = MemoryJournal()
    requests = [request(i) for i in range(2)]
    async with Simulator(
        seed=43, p_drop_after_post=1.0, fault_operations={"createTransferTask"}
    ) as sim:
        async with ita.TapisClient(sim.tapis_url, token=TOK_1, retry=FEW) as tapis:

            async def sleep(seconds: float) -> None:
                # Once both creates are lost, their tags' look-ups fail.
                await eventually(lambda: sim.stats.faults.get("drop_after_post") == 2)
                sim.configure(
                    p_drop_after_post=0.0, p_503=1.0, fault_operations={"getRecentTransferTasks"}
                )
                await anyio.sleep(seconds)

            orch = ita.TransferOrchestrator(
                tapis, journal=journal, run_id="sent", sleep=sleep, poll_initial=0.02
            )
            with anyio.fail_after(30):
                first = await orch.run(requests)
        assert first.counts == {"UNKNOWN": 2}
        sim.configure(p_503=0.0, tapis_tokens={TOK_2})
        with pytest.raises(ita.AuthenticationError):
            await _run(sim.tapis_url, TOK_1, journal, requests, retry=FEW, run_id="sent")
        assert sim.stats.requests_by_operation["createTransferTask"] == 2
        report = await _run(sim.tapis_url, TOK_2, journal, requests, retry=FEW, run_id="sent")
    assert report.counts == {"COMPLETED": 2}
    assert all(o.recovered for o in report.outcomes)
    assert sim.stats.tapis_tasks == 2
