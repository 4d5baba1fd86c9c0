"""The fleet on one PostgreSQL journal: starvation, late workers, clocks, the claiming loop."""

from __future__ import annotations

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async.orchestrator import LeaseLostError


async def test_a_lapsed_lease_nobody_took_keeps_the_batch_id(pg_dsn: str) -> None:
    """A starved worker's lease lapsed before it could record the server's batch id: the id
    is recorded anyway (nobody took the chunk over), so the re-claim follows the batch
    instead of sending it again."""
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=0.2)).lease
        assert lease is not None
        await journal.mark_sending(lease)
        await anyio.sleep(0.3)  # the heartbeats could not get through
        await journal.mark_submitted(lease, "batch-1")
        with pytest.raises(LeaseLostError):  # the lease itself is not extended
            await journal.renew(lease, 5.0)
        again = await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=5.0)
        assert again.lease is not None
        assert again.lease.token == lease.token + 1
        assert (again.record.state, again.record.batch_id) == ("submitted", "batch-1")
        assert again.record.attempts == 1


async def test_a_lease_taken_over_still_cannot_record_a_batch_id(pg_dsn: str) -> None:
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=0.2)).lease
        assert lease is not None
        await journal.mark_sending(lease)
        await anyio.sleep(0.3)
        taken = await journal.claim("r", 0, key="k", digest="d", owner="b", ttl_s=5.0)
        assert taken.granted
        with pytest.raises(LeaseLostError):
            await journal.mark_submitted(lease, "batch-1")
        record = await journal.get_chunk("r", 0)
        assert record is not None
        assert record.batch_id is None
