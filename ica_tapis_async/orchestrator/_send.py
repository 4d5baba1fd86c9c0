"""Sending one chunk's create: lost answers, 409 windows and 422s told apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from .._client import IcaClient
from .._concurrency import Backoff
from .._config import RequestOptions
from .._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    IdempotencyConflictError,
    IdempotencyInProgressError,
    NotFoundError,
    PermissionDeniedError,
    ResponseValidationError,
)
from ._outcomes import IN_DOUBT, NOT_SUBMITTED, REJECTED
from ._plan import Chunk, Kind

__all__ = ("SendResult", "Sender", "is_lost_answer")

#: Answers that may come after the server processed the POST (the answer, not the request,
#: was lost): the create may have happened.
_LOST_STATUSES = frozenset({500, 502, 504})


def is_lost_answer(error: BaseException) -> bool:
    """Whether a failed create may nevertheless have been processed by the server."""
    if isinstance(error, APIConnectionError):
        # No connection could be made (refused, unknown host, TLS): the request never left.
        return not error.connect_failed
    if not isinstance(error, APIStatusError):
        return False
    # A redirect the client could not follow (no Location, a 300) says nothing of what the
    # server did with the POST (a 303 comes after processing): never a refusal of the input.
    return error.status in _LOST_STATUSES or 300 <= error.status < 400


def _never_connected(error: BaseException) -> bool:
    return isinstance(error, APIConnectionError) and error.connect_failed


@attrs.define(frozen=True)
class SendResult:
    """What became of one create.

    Attributes:
        batch_id: the server's batch id, when the create succeeded.
        lost: an answer was lost on the way, so the create may have been processed more than
            once (links, updates) or its fate was unknown for a while (analyses).
        status: for a failure, the items' status: ``REJECTED`` (final: the server refused the
            input), ``NOT_SUBMITTED`` (not processed as far as anyone can tell) or
            ``IN_DOUBT`` (it may have been processed).
        info: the explanation of a failure.
        unsent: the server processed no attempt: none connected, or it refused the
            credentials (and no earlier answer was lost).
        refused: the server refused the credentials (401, no way to renew): later chunks of
            the run would be refused alike.
    """

    batch_id: str | None
    lost: bool
    status: str | None = None
    info: str | None = None
    unsent: bool = False
    refused: AuthenticationError | None = None

    @property
    def final(self) -> bool:
        """Whether the failure is final (the chunk is done); successes are not yet final."""
        return self.status == REJECTED


@attrs.define
class Sender:
    """Creates batches in one project."""

    ica: IcaClient
    project_id: str
    max_links: int
    poll_initial: float
    poll_max: float
    poll_timeout: float
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]

    async def send(
        self,
        kind: Kind,
        chunk: Chunk,
        key: str,
        *,
        first_use: bool,
        before_attempt: Callable[[], Awaitable[None]] | None = None,
    ) -> SendResult:
        """Create the chunk's batch.

        ``before_attempt`` is awaited right before every attempt of the create (the first, the
        client's retries, and the re-sends after a 409); what it raises (``LeaseLostError``
        when this worker no longer holds the chunk) propagates with that attempt unsent.

        A 409 ("the original request is still in progress") is waited out with the same key,
        up to ``poll_timeout``; then the chunk is ``IN_DOUBT``. A 422 on the first use of a
        fresh key is a validation error of the chunk (``REJECTED``). On a key sent before it is
        too: the key embeds the digest of the body and the journal refuses a chunk whose digest
        changed, so this key was only ever sent with this very body, and a server that keeps
        keys answers a replay with what it answered first (here the chunk's own 422), never
        "reused with another body". A create that failed after an answer was lost is
        ``IN_DOUBT``, never ``NOT_SUBMITTED``; so is one accepted with an answer that cannot be
        read (``ResponseValidationError``: over ``max_body_size``, or of the wrong shape).

        A 401 (credentials refused, no way to renew) is ``NOT_SUBMITTED`` with ``refused``
        set (``IN_DOUBT`` after a lost answer): the run stops sending and reports.

        Raises:
            PermissionDeniedError, NotFoundError: every chunk would fail alike; a corrected
                re-run must send them, so nothing is recorded as final.
            Exception: whatever ``before_attempt`` raised.
        """
        lost = False

        def on_retry(error: Exception) -> None:
            nonlocal lost
            lost = lost or is_lost_answer(error)

        deadline = self.clock() + self.poll_timeout
        backoff = Backoff(self.poll_initial, max(self.poll_max, self.poll_initial), 1.5)
        while True:
            try:
                batch_id = await self._create(kind, chunk, key, on_retry, before_attempt)
                return SendResult(batch_id, lost)
            except IdempotencyInProgressError as exc:
                # The server holds an unfinished first request with this key: it may still
                # create the analyses, so the chunk must never be reported as refused.
                lost = True
                if self.clock() >= deadline:
                    return SendResult(
                        None,
                        lost,
                        IN_DOUBT,
                        f"the server was still processing the create sent with Idempotency-Key "
                        f"{key} when poll_timeout ran out ({exc.status}); run again with the "
                        "journal to pick it up",
                    )
                await self.sleep(backoff.next(changed=False))
            except IdempotencyConflictError as exc:
                why = str(exc)
                if not first_use:
                    why += (
                        f" (Idempotency-Key {key} was sent before with this same body: this is "
                        "the server's stored refusal of the chunk, not a key conflict)"
                    )
                return SendResult(None, lost, REJECTED, why)
            except AuthenticationError as exc:
                # Refused before processing (unless an earlier answer was lost): the report of
                # what was done still counts, and a run with new credentials does the rest.
                return SendResult(
                    None,
                    lost,
                    IN_DOUBT if lost else NOT_SUBMITTED,
                    f"{exc}; the server refused the credentials (an expired token?): run "
                    "again with new ones and the journal",
                    unsent=not lost,
                    refused=exc,
                )
            except (PermissionDeniedError, NotFoundError):
                raise
            except ResponseValidationError as exc:
                # The server accepted the create (a 2xx) but its answer cannot be read: the
                # batch exists and its id is lost, like a dropped answer.
                return SendResult(
                    None,
                    True,
                    IN_DOUBT,
                    f"the create was accepted but its answer could not be read ({exc}); the "
                    f"server has it ({self._ref(kind, key)}); run again with the journal to "
                    "settle it",
                )
            except (APIStatusError, APIConnectionError) as exc:
                if lost or is_lost_answer(exc):
                    return SendResult(
                        None,
                        True,
                        IN_DOUBT,
                        f"the create's answer was lost ({exc}); the server may have it "
                        f"({self._ref(kind, key)}); run again with the journal to settle it",
                    )
                if _never_connected(exc):
                    # Refused, unknown host, TLS mismatch: not sent, whatever the kind.
                    why = (
                        str(exc)
                        if str(exc).startswith("cannot reach")
                        else (f"cannot reach the server: {exc}")
                    )
                    # No answer lost: every attempt was refused unprocessed or never left.
                    return SendResult(None, lost, NOT_SUBMITTED, f"{why}; nothing was sent", True)
                if isinstance(exc, APIStatusError) and (
                    exc.status >= 500 or exc.status in (408, 429)
                ):
                    # Refused before processing, past the retries: a re-run sends it again.
                    return SendResult(None, lost, NOT_SUBMITTED, str(exc))
                return SendResult(None, lost, REJECTED, str(exc))

    @staticmethod
    def _ref(kind: Kind, key: str) -> str:
        return f"Idempotency-Key {key}" if kind == "analysis" else "no key (not keyed)"

    async def _create(
        self,
        kind: Kind,
        chunk: Chunk,
        key: str,
        on_retry: Callable[[Exception], None],
        before_attempt: Callable[[], Awaitable[None]] | None,
    ) -> str:
        options: RequestOptions = {"on_retry": on_retry}
        if before_attempt is not None:
            options["before_attempt"] = before_attempt
        if kind == "link":
            batch = await self.ica.data_linking_batches.create(
                self.project_id,
                [item.data_id for item in chunk.body.items],
                retry_safe=True,
                max_links=max(self.max_links, len(chunk.keys)),
                **options,
            )
            return batch.id
        if kind == "update":
            update = await self.ica.data_update_batches.create(
                self.project_id, chunk.body.data_update_groups, retry_safe=True, **options
            )
            return update.id
        analysis = await self.ica.analysis_creation_batches.create(
            self.project_id, chunk.body, idempotency_key=key, **options
        )
        return analysis.id
