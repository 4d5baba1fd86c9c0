"""The fleet under attack: what the fleet's own tests left out."""

from __future__ import annotations

import anyio
import psycopg

import ica_tapis_async as ita
from ica_tapis_async.orchestrator._fleet import Fleet
from ica_tapis_async.orchestrator._journal_protocol import Claim


async def test_a_worker_whose_last_heartbeat_was_slow_claims_again_once_it_holds_nothing(
    pg_dsn: str,
) -> None:
    """A heartbeat was slow (or failed) and meanwhile the worker's chunks finished: with no
    lease left there is no heartbeat to say the journal is quick again, so the worker must
    not stay paused for ever (the run never finished)."""
    async with ita.PostgresJournal(pg_dsn) as journal:
        await journal.open_run("link", "p", "r", "f")
        lease = (await journal.claim("r", 0, key="k", digest="d", owner="a", ttl_s=1.5)).lease
        assert lease is not None
        fleet = Fleet(journal, "r", "a", 1.5)
        claims: list[int] = []

        async def claim() -> Claim:
            claims.append(1)
            return await journal.claim("r", 1, key="k1", digest="d", owner="a", ttl_s=1.5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.run)
            with fleet.holding(0, lambda: lease, lambda _: None, lambda: None):
                async with await psycopg.AsyncConnection.connect(pg_dsn) as blocker:
                    await blocker.execute("SELECT 1 FROM ita_chunks WHERE idx = 0 FOR UPDATE")
                    with anyio.fail_after(5):
                        while fleet.healthy:  # noqa: ASYNC110 - set by the heartbeat task
                            await anyio.sleep(0.02)
                    # The chunk settled while its heartbeat was stuck; the lock goes, the slow
                    # heartbeat returns: the worker holds nothing now.
                    await blocker.rollback()
            got: list[object] = []

            async def claiming() -> None:
                got.append(await fleet.claim(1, "d", claim))

            tg.start_soon(claiming)
            with anyio.fail_after(4 * 1.5):
                while not got:  # noqa: ASYNC110 - the claim comes from another task
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
        assert claims == [1]
