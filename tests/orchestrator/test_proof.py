"""The proof of issue 4: faults, lost answers and a rate limit, and still exactly once."""

from __future__ import annotations

import time

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT, nextflow


async def test_20k_links_and_500_analyses_under_faults_and_a_rate_limit() -> None:
    """5% 503s, 1% of POSTs processed then dropped, 200 requests/s: every item final once."""
    async with Simulator(
        seed=11, p_503=0.05, p_drop_after_post=0.01, rate_limit=200, rate_limit_burst=20
    ) as sim:
        retry = ita.RetryPolicy(
            max_attempts=10, total_timeout=120, initial_backoff=0.05, max_backoff=1.0
        )
        limit = ita.RateLimitPolicy(rate=190, burst=10, max_in_flight=32)
        async with ita.IcaClient(sim.ica_url, api_key="k", retry=retry, rate_limit=limit) as ica:
            # Small batches make enough POSTs (about 225) for the 1% of lost answers to happen.
            links_orch = ita.BatchOrchestrator(
                ica,
                PROJECT,
                batch_size=100,
                poll_initial=0.1,
                poll_max=1.0,
                max_inflight_batches=16,
            )
            analyses_orch = ita.BatchOrchestrator(
                ica, PROJECT, batch_size=20, poll_initial=0.1, poll_max=1.0
            )
            ids = [f"fil.p{i:05d}" for i in range(20_000)]
            started = time.monotonic()
            links = await links_orch.link(ids)
            analyses = await analyses_orch.create_analyses([nextflow(f"p-{i}") for i in range(500)])
            elapsed = time.monotonic() - started

        assert links.total == 20_000
        assert links.ok
        assert links.counts.get("LINKED", 0) + links.counts.get("ALREADY_LINKED", 0) == 20_000
        assert sim.links(PROJECT) >= set(ids)
        assert analyses.counts == {"SUCCEEDED": 500}
        truth = sim.stats.analyses_by_user_reference
        assert len(truth) == 500
        assert set(truth.values()) == {1}
        assert sim.stats.faults.get("503", 0) > 0
        assert sim.stats.faults.get("drop_after_post", 0) > 0
        assert links.resubmitted > 0  # the items of the batches whose answer was lost
        requests = sim.stats.requests
        assert requests / elapsed <= 200
        assert sim.stats.throttled <= 0.01 * requests
        assert links.requests + analyses.requests == ica.metrics.requests
