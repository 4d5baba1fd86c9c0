"""Waiting for a submitted batch's items to be final, then reading them once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from .._client import IcaClient
from .._concurrency import Backoff
from .._pagination import AsyncPaginator
from ..models import JobStatus
from ._outcomes import ALL, COMMON, FINAL, UNKNOWN, item_key, item_outcomes
from ._plan import Chunk, Kind
from ._report import ItemOutcome
from ._views import ItemView

__all__ = ("ItemPoller",)


@attrs.define
class ItemPoller:
    """Polls batches of one project with backoff; see :meth:`await_items`."""

    ica: IcaClient
    project_id: str
    poll_initial: float
    poll_max: float
    poll_timeout: float
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]

    async def await_items(
        self, kind: Kind, chunk: Chunk, batch_id: str, *, resubmitted: bool
    ) -> tuple[list[ItemOutcome], bool]:
        """Wait until every item of the batch is final, then read them once, 1,000 a page.

        Returns the outcomes and whether they are final (the chunk can be marked done).

        Each poll is one request: a one-item page filtered on the pending statuses, whose
        ``remainingRecords`` says how many items are still pending. From how fast that number
        falls the next poll is timed for the expected end of the batch; while it does not move
        the interval backs off, and after a few still polls the batch's job is checked, so a
        stopped or failed job is not waited on until the deadline. Items the pending filter
        cannot see (a status this library does not know, or an item list still empty right
        after the create) are waited on, with backoff, until the job is final. Once the job is
        final so are its items, pending ones included: they will never move again.
        """
        resource = self._resource(kind)
        backoff = Backoff(self.poll_initial, max(self.poll_max, self.poll_initial), 1.5)
        deadline = self.clock() + self.poll_timeout
        final = FINAL[kind]
        pending_statuses = sorted(ALL[kind] - final)
        last: tuple[float, int] | None = None
        still = 0
        while True:
            probe = await self._items(resource, batch_id, status=pending_statuses, page_size=1)
            pending = len(probe.items) + (probe.remaining_records or 0)
            now = self.clock()
            job_final: bool | None = None
            if pending and last is not None and pending == last[1]:
                still += 1
                if still % 3 == 0:
                    job_final = await self._job_final(resource, batch_id)
            if pending == 0 or job_final or now >= deadline:
                if pending == 0 and kind in COMMON:
                    counted = await self._count_common(kind, resource, batch_id, chunk)
                    if counted is not None:
                        outcomes = item_outcomes(
                            kind, chunk, batch_id, counted, resubmitted=resubmitted,
                            assumed=COMMON[kind], job_final=True,
                        )  # fmt: skip
                        return outcomes, True
                items = await self._read_all(kind, resource, batch_id)
                complete = all(
                    key in items and items[key].processing.status in final for key in chunk.keys
                )
                if not complete and job_final is None:
                    job_final = await self._job_final(resource, batch_id)
                    if job_final and any(
                        it.processing.status in pending_statuses for it in items.values()
                    ):
                        # Read before the job was seen final, these pending items may have
                        # moved since: read again, so the status kept as final is the last.
                        items = await self._read_all(kind, resource, batch_id)
                if complete or job_final or now >= deadline:
                    outcomes = item_outcomes(
                        kind, chunk, batch_id, items, resubmitted=resubmitted,
                        job_final=complete or bool(job_final),
                    )  # fmt: skip
                    return outcomes, all(o.status != UNKNOWN for o in outcomes)
                # The count lagged the items, the list is still empty after the create, or an
                # item has a status we do not know while the job runs: look again, backing off.
                last = (now, pending)
                await self.sleep(backoff.next(changed=False))
                continue
            await self.sleep(self._next_delay(backoff, last, now, pending))
            if last is None or pending != last[1]:
                still = 0
            last = (now, pending)

    async def _read_all(self, kind: Kind, resource: Any, batch_id: str) -> dict[str, ItemView]:
        """Every item of the batch by its input key, 1,000 a page."""
        return {
            item_key(kind, it): it async for it in self._items(resource, batch_id, page_size=1000)
        }

    async def _job_final(self, resource: Any, batch_id: str) -> bool:
        """Whether the batch's job is final (``False`` when the batch has no job)."""
        batch = await resource.get(self.project_id, batch_id)
        job = getattr(batch, "job", None)
        return job is not None and job.status in JobStatus.FINAL

    async def _count_common(
        self, kind: Kind, resource: Any, batch_id: str, chunk: Chunk
    ) -> dict[str, ItemView] | None:
        """Read only the items not in the usual success status, and count those that are.

        A finished batch of 1,000 linked files is a 2.5 MB page; two small requests say the
        same: how many items are LINKED (a one-item page's ``remainingRecords``), and which
        items are anything else. The count stands in for reading only when the ids add up:
        every item read belongs to the chunk, once, in a final status, and the counted plus the
        read items are exactly the chunk. Otherwise returns ``None`` and the caller reads all.
        """
        common = COMMON[kind]
        probe = await self._items(resource, batch_id, status=[common], page_size=1)
        n_common = len(probe.items) + (probe.remaining_records or 0)
        others = sorted(ALL[kind] - {common})
        keys = set(chunk.keys)
        rest: dict[str, ItemView] = {}
        async for it in self._items(resource, batch_id, status=others, page_size=1000):
            key = item_key(kind, it)
            if key not in keys or key in rest or it.processing.status not in FINAL[kind]:
                return None
            rest[key] = it
        if any(item_key(kind, it) not in keys for it in probe.items):
            return None
        if n_common + len(rest) != len(keys):
            return None
        return rest

    def _next_delay(
        self, backoff: Backoff, last: tuple[float, int] | None, now: float, pending: int
    ) -> float:
        """Time the next poll for the expected end when items are moving, else back off."""
        if last is None or pending >= last[1] or now <= last[0]:
            return backoff.next(changed=last is None or pending != last[1])
        backoff.reset()
        rate = (last[1] - pending) / (now - last[0])
        eta = pending / rate
        if eta > self.poll_initial:
            # Far from the end the estimate is rough (it includes the batch's start-up):
            # look again halfway to refine it instead of overshooting on a guess.
            return min(max(eta / 2, self.poll_initial), self.poll_max)
        return min(eta * 1.05 + 0.01, self.poll_max)  # just past the expected end

    def _items(
        self, resource: Any, batch_id: str, *, page_size: int, status: list[str] | None = None
    ) -> AsyncPaginator[ItemView]:
        paginator: AsyncPaginator[ItemView] = resource.list_item_summaries(
            self.project_id, batch_id, status=status, page_size=page_size
        )
        return paginator

    def _resource(self, kind: Kind) -> Any:
        if kind == "link":
            return self.ica.data_linking_batches
        if kind == "update":
            return self.ica.data_update_batches
        return self.ica.analysis_creation_batches
