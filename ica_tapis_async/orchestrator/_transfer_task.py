"""One Tapis transfer task: created once (recovered by tag after a lost answer), then followed."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import anyio
import attrs

from .._client import TapisClient
from .._concurrency import PollState, poll_until
from .._errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    PaginationError,
    WaiterError,
)
from ..models import ReqTransferElement, TransferStatus, TransferTask

__all__ = ("NOT_CREATED", "TIMED_OUT", "UNKNOWN", "Created", "TaskFollower")

log = logging.getLogger("ica_tapis_async.orchestrator")

NOT_CREATED = "NOT_CREATED"
TIMED_OUT = "TIMED_OUT"
UNKNOWN = "UNKNOWN"


@attrs.define(frozen=True)
class Created:
    """The result of creating a task: its uuid (or the error), and whether it was recovered."""

    uuid: str | None
    recovered: bool = False
    error: str | None = None
    final: bool = False  # a refusal (4xx): the request itself is wrong
    #: A create was sent and the look-up of its tag failed: the task may exist (``UNKNOWN``).
    unknown: bool = False
    #: The run was cancelled before another create was sent, and no earlier one created it.
    cancelled: bool = False


@attrs.define
class TaskFollower:
    """Creates and follows tasks for one :class:`TransferOrchestrator`.

    Attributes:
        recovery_skew_s: a task found by its tag is adopted only if the server created it no
            earlier than this many seconds before our attempt was sent (clock skew).
    """

    tapis: TapisClient
    poll_initial: float
    poll_max: float
    poll_timeout: float
    sleep: Callable[[float], Awaitable[None]]
    cancelled: anyio.Event
    recovery_skew_s: float = 30.0
    wall_clock: Callable[[], float] = time.time

    async def create(
        self, elements: Sequence[ReqTransferElement], tag: str, *, first_sent_at: float | None,
        on_send: Callable[[], Awaitable[float | None]], attempts: int = 3,
        before_attempt: Callable[[], Awaitable[None]] | None = None,
    ) -> Created:  # fmt: skip
        """Create the task, or adopt the one a lost answer created.

        ``first_sent_at`` is when an earlier attempt (a killed run's) may have created it;
        ``on_send`` records each attempt in the journal before it is sent and returns the first
        attempt's time; ``before_attempt`` runs right before each POST leaves (after any wait
        for the rate limiter), and stops it by raising (a lease taken over meanwhile).

        Raises:
            AuthenticationError: bad credentials stop the whole run.
        """
        error: str | None = None
        since = first_sent_at
        for attempt in range(attempts):
            if since is not None:
                found = await self.look_up(elements, tag, since)
                if found.uuid is not None or found.unknown:
                    return found
            if self.cancelled.is_set():
                # cancel() came while this waited to try again: a request not created yet is
                # not created (it stays resumable), rather than created only to be cancelled.
                return Created(None, error=error, cancelled=True)
            since = await on_send()
            try:
                if before_attempt is None:
                    task = await self.tapis.transfers.create(list(elements), tag=tag)
                else:
                    task = await self.tapis.transfers.create(
                        list(elements), tag=tag, before_attempt=before_attempt
                    )
                if task.uuid:
                    return Created(task.uuid)
                # Accepted, so the task exists: looked for by its tag in the next round.
                error = "the create was accepted but its answer has no uuid"
                continue
            except AuthenticationError:
                raise
            except APIError as exc:
                # A lost answer, or an accepted create whose answer cannot be read (the task
                # exists, its uuid is lost): either way the next round looks for it by tag.
                error = str(exc)
                if isinstance(exc, APIStatusError) and exc.status < 500 and exc.status != 429:
                    return Created(None, error=error, final=True)
                await self.sleep(min(self.poll_max, self.poll_initial * 2**attempt))
        if since is not None:
            found = await self.look_up(elements, tag, since)
            if found.uuid is not None or found.unknown:
                return found
        return Created(None, error=error)

    async def look_up(
        self, elements: Sequence[ReqTransferElement], tag: str, since: float
    ) -> Created:
        """:meth:`find` for a create sent at ``since``: the task adopted, none (``uuid`` is
        ``None``), or ``unknown`` when the look-up itself failed past its retries (the task
        may exist: the request is ``UNKNOWN``, resumable, never "not created").

        Raises:
            AuthenticationError: bad credentials stop the whole run.
        """
        try:
            found = await self.find(elements, tag, since)
        except AuthenticationError:
            raise
        except (APIError, PaginationError) as exc:
            # Past its retries, or an answer that cannot be read: either way nobody knows.
            log.warning("looking for the task tagged %s failed: %s", tag, exc)
            return Created(
                None,
                error=(
                    f"a create was sent but looking for its task by tag {tag} failed ({exc}): "
                    "the task may exist; run again with the journal to settle it"
                ),
                unknown=True,
            )
        return Created(found, recovered=found is not None)

    async def find(
        self, elements: Sequence[ReqTransferElement], tag: str, since: float
    ) -> str | None:
        """The uuid of a task this attempt created: same tag, created after ``since`` (less the
        skew) and with the same elements; never an older task that happens to carry the tag."""
        # Newest first: read back until the tasks are older than the attempt (a busy account
        # may have created more than a page of tasks since).
        wanted = sorted((e.source_uri, e.destination_uri) for e in elements)
        earliest = since - self.recovery_skew_s
        async for task in self.tapis.transfers.list_recent(page_size=100):
            if task.created is not None and task.created.timestamp() < earliest:
                break
            if task.tag != tag or task.uuid is None or not _after(task.created, earliest):
                continue
            details = await self.tapis.transfers.details(task.uuid)
            parents = details.parent_tasks or []
            got = sorted((p.source_uri, p.destination_uri) for p in parents)
            if got == wanted:
                return task.uuid
            log.warning("task %s carries tag %s but other elements: not adopted", task.uuid, tag)
        return None

    async def wait(self, task_uuid: str) -> TransferTask | str:
        """The task once final, else ``TIMED_OUT`` or ``UNKNOWN`` (its GET kept failing)."""
        woken = self.cancelled.is_set()

        async def sleep(delay: float) -> None:
            nonlocal woken
            if woken:
                await self.sleep(delay)
                return
            # A cancel wakes the poll once (to see CANCELLED soon), never again: no spinning.
            with anyio.move_on_after(delay):
                await self.cancelled.wait()
            woken = self.cancelled.is_set()

        try:
            return await poll_until(
                lambda: self.tapis.transfers.get(task_uuid, include_summary=True),
                lambda task: (
                    PollState.SUCCESS if task.status in TransferStatus.FINAL else PollState.PENDING
                ),
                name=f"transfer task {task_uuid}",
                initial_delay=self.poll_initial,
                max_delay=max(self.poll_initial, self.poll_max),
                deadline=self.poll_timeout,
                changed=lambda a, b: (
                    (a.status, a.complete_transfers) != (b.status, b.complete_transfers)
                ),
                sleep=sleep,
            )
        except WaiterError:
            return TIMED_OUT
        except AuthenticationError:
            raise
        except APIError as exc:  # past its retries, or an answer that cannot be read
            log.warning("reading transfer %s failed: %s", task_uuid, exc)
            return UNKNOWN


def _after(created: datetime | None, since: float) -> bool:
    return created is not None and created.timestamp() >= since
