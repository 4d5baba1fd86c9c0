"""A token that expires mid-run (401, no way to renew): the run returns the report of what was
done, the rest NOT_SUBMITTED (or UNKNOWN while polling), never IN_DOUBT; with a journal a
later run with a good token does the rest, each item once (issue 19, point 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import Journal, MemoryJournal
from ica_tapis_async.simulator import Simulator

from .helpers import orchestrator

QUICK = ita.RetryPolicy(max_attempts=4, total_timeout=20, initial_backoff=0.01, max_backoff=0.02)


def make_journal(backend: str, tmp_path: Path) -> str | Path | Journal:
    return tmp_path / "token.sqlite" if backend == "sqlite" else MemoryJournal()


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_token_expiring_mid_run_returns_the_report_and_resumes(
    backend: str, tmp_path: Path
) -> None:
    await token_expires_midway(make_journal(backend, tmp_path))


async def token_expires_midway(journal: object) -> None:
    """The token is revoked after 50 items; then a run with a new one (also run by
    ``tests/scaleout`` on a PostgreSQL journal)."""
    ids = [f"fil.t{i:03d}" for i in range(200)]
    async with Simulator(seed=5, bearer_tokens={"tok-1"}) as sim:
        revoked: list[bool] = []

        def expire_midway(progress: ita.Progress) -> None:
            if not revoked and sum(progress.finished.values()) >= 50:
                revoked.append(True)
                sim.configure(bearer_tokens={"tok-2"})  # tok-1 no longer accepted

        async with ita.IcaClient(sim.ica_url, access_token="tok-1", retry=QUICK) as ica:
            orch = orchestrator(
                ica, journal=journal, batch_size=10, max_inflight_batches=2,
                progress=expire_midway,
            )  # fmt: skip
            report = await orch.link(ids)
        assert revoked
        assert report.total == 200
        linked = report.counts.get("LINKED", 0)
        assert 50 <= linked < 200, report.counts
        assert set(report.counts) <= {"LINKED", "NOT_SUBMITTED", "UNKNOWN"}, report.counts
        for failure in report.failures:
            assert failure.info is not None
            assert "401" in failure.info, failure.info
        async with ita.IcaClient(sim.ica_url, access_token="tok-2", retry=QUICK) as ica:
            again = await orchestrator(ica, journal=journal, batch_size=10).link(ids)
        assert again.run_id == report.run_id
        assert again.counts == {"LINKED": 200}
        assert set(sim.stats.link_submissions.values()) == {1}
        assert len(sim.stats.link_submissions) == 200
