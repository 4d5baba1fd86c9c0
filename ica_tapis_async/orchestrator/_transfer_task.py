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
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    PaginationError,
    ResponseValidationError,
    WaiterError,
)
from ..models import ReqTransferElement, TransferStatus, TransferTask

__all__ = ("NOT_CREATED", "TIMED_OUT", "UNKNOWN", "Created", "TaskFollower")

log = logging.getLogger("ica_tapis_async.orchestrator")

NOT_CREATED = "NOT_CREATED"
TIMED_OUT = "TIMED_OUT"
UNKNOWN = "UNKNOWN"
#: Answers to a create that refuse the request itself: another attempt would be refused alike.
_REFUSALS = frozenset(range(400, 500)) - {429}


@attrs.define(frozen=True)
class Created:
    """The result of creating a task: its uuid (or the error), and whether it was recovered."""

    uuid: str | None
    recovered: bool = False
    error: str | None = None
    final: bool = False  # a refusal (4xx): the request itself is wrong
    #: The task may exist (``UNKNOWN``, resumable, never ``NOT_CREATED``): the look-up of a
    #: sent create's tag failed, or a create accepted with an unreadable answer was not found.
    unknown: bool = False
    #: How many attempts this call recorded (``on_send``) that no server processed (none could
    #: connect, or the server refused the credentials): the journal takes them back.
    unsent: int = 0
    #: The server refused the run's credentials (401, no way to renew).
    refused: bool = False
    #: The run was cancelled before another create was sent, and no earlier one created it.
    cancelled: bool = False


@attrs.define
class TaskFollower:
    """Creates and follows tasks for one :class:`TransferOrchestrator`.

    Attributes:
        recovery_skew_s: a task found by its tag is adopted only if the server created it no
            earlier than this many seconds before our attempt was sent (clock skew).
        refused: the first 401 of the run (credentials refused, no way to renew): later
            requests of the run would be refused alike.
    """

    tapis: TapisClient
    poll_initial: float
    poll_max: float
    poll_timeout: float
    sleep: Callable[[float], Awaitable[None]]
    cancelled: anyio.Event
    recovery_skew_s: float = 30.0
    wall_clock: Callable[[], float] = time.time
    refused: AuthenticationError | None = None

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

        A 401 is no exception: the result is ``refused`` (and :attr:`refused` set), ``unknown``
        if an attempt may have been processed before. When no attempt could connect (and none
        was sent before) the result counts them in ``unsent``: nothing was sent.
        """
        # Whether an attempt (this call's, or an earlier run's) may have been processed: only
        # then can a task carry the tag, and only then is it looked for.
        maybe = [first_sent_at is not None]
        sent = [0]

        async def sending() -> float | None:
            sent[0] += 1
            return await on_send()

        if self.refused is not None:
            # Another request's 401: this one would be refused alike, so it is not sent.
            why = (
                f"not sent: the server refused the run's credentials ({self.refused}); run "
                "again with new ones and the journal"
            )
            return Created(None, error=why, refused=True, unknown=maybe[0])
        try:
            return await self._create(
                elements, tag, first_sent_at, sending, attempts, before_attempt, maybe, sent
            )
        except AuthenticationError as exc:
            if self.refused is None:
                self.refused = exc
            why = (
                f"{exc}; the server refused the run's credentials (an expired token?): run "
                "again with new ones and the journal"
            )
            if maybe[0]:
                why += f"; a create was sent before, so the task tagged {tag} may exist"
            # A refused POST was not processed: with none before, nothing was created.
            return Created(
                None, error=why, refused=True, unknown=maybe[0], unsent=0 if maybe[0] else sent[0]
            )

    async def _create(
        self, elements: Sequence[ReqTransferElement], tag: str, first_sent_at: float | None,
        on_send: Callable[[], Awaitable[float | None]], attempts: int,
        before_attempt: Callable[[], Awaitable[None]] | None, maybe: list[bool], sent: list[int],
    ) -> Created:  # fmt: skip
        error: str | None = None
        since = first_sent_at
        for attempt in range(attempts):
            if since is not None and maybe[0]:
                found = await self.look_up(elements, tag, since)
                if found.uuid is not None or found.unknown:
                    return found
            if self.cancelled.is_set():
                # cancel() came while this waited to try again: a request not created yet is
                # not created (it stays resumable), rather than created only to be cancelled.
                unsent = 0 if maybe[0] else sent[0]  # attempts that never connected
                return Created(None, error=error, cancelled=True, unsent=unsent)
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
                # Accepted, so the task exists: found by its tag, never POSTed again (as for
                # an answer that cannot be read, below).
                maybe[0] = True
                if since is not None:
                    found = await self.look_up(elements, tag, since)
                    if found.uuid is not None or found.unknown:
                        return found
                return Created(None, error="created, but its answer has no uuid", unknown=True)
            except AuthenticationError:
                raise
            except ResponseValidationError as exc:
                # Tapis accepted the create (a 2xx) but its answer cannot be read (over
                # max_body_size, a proxy's HTML page): the task exists. Find it by its tag;
                # another POST would create it twice.
                maybe[0] = True
                if since is not None:
                    found = await self.look_up(elements, tag, since)
                    if found.uuid is not None or found.unknown:
                        return found
                return Created(
                    None, error=f"created, but its answer was unreadable: {exc}", unknown=True
                )
            except (APIConnectionError, APIStatusError) as exc:
                error = str(exc)
                # Connection refused, unknown host, TLS mismatch: this POST never left.
                maybe[0] = maybe[0] or not (
                    isinstance(exc, APIConnectionError) and exc.connect_failed
                )
                # A 3xx the client could not follow (no Location) is no refusal: Tapis may
                # have made the task (a 303 comes after processing). Look for it by its tag.
                if isinstance(exc, APIStatusError) and exc.status in _REFUSALS:
                    return Created(None, error=error, final=True)
                await self.sleep(min(self.poll_max, self.poll_initial * 2**attempt))
        if not maybe[0]:
            # As the batch side words it: one message for every request the server never got.
            why = error or ""
            why = why if why.startswith("cannot reach") else f"cannot reach the server: {why}"
            return Created(None, error=f"{why}; nothing was sent", unsent=sent[0])
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
        """The task once final, else ``TIMED_OUT`` or ``UNKNOWN`` (its GET kept failing, or
        the server refused the run's credentials: :attr:`refused` is then set)."""
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
        except AuthenticationError as exc:
            # The task exists and goes on: a run with new credentials follows it again.
            if self.refused is None:
                self.refused = exc
            return UNKNOWN
        except APIError as exc:  # past its retries, or an answer that cannot be read
            log.warning("reading transfer %s failed: %s", task_uuid, exc)
            return UNKNOWN


def _after(created: datetime | None, since: float) -> bool:
    return created is not None and created.timestamp() >= since
