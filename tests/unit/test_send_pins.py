"""Pins of the sender (orchestrator/_send.py): every create's arguments and every outcome.

The client is a fake whose ``create`` methods answer from a script (a batch id, an error, or
retries reported through ``on_retry`` first); time is a fake clock that the sleeps advance.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ica_tapis_async._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    IdempotencyConflictError,
    IdempotencyInProgressError,
    NotFoundError,
    PermissionDeniedError,
    ResponseValidationError,
)
from ica_tapis_async.orchestrator._plan import Chunk, Kind
from ica_tapis_async.orchestrator._send import Sender, SendResult, is_lost_answer


class Retried:
    """A script step: the client retried after ``error`` (reported through ``on_retry``)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class FakeCreate:
    """One resource's ``create``: records its arguments, answers from the shared script."""

    def __init__(self, script: list[Any], calls: list[tuple[Any, ...]], name: str) -> None:
        self.script, self.calls, self.name = script, calls, name

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((self.name, args, kwargs))
        before = kwargs.get("before_attempt")
        while True:
            if before is not None:
                await before()
            step = self.script.pop(0)
            if isinstance(step, Retried):
                kwargs["on_retry"](step.error)
                continue
            if isinstance(step, Exception):
                raise step
            return SimpleNamespace(id=step)


class Fixture:
    """A sender on a fake client and a fake clock starting at 100."""

    def __init__(
        self,
        *script: Any,
        max_links: int = 10,
        poll_initial: float = 1.0,
        poll_max: float = 2.0,
        poll_timeout: float = 4.0,
    ) -> None:
        self.script = list(script)
        self.calls: list[tuple[Any, ...]] = []
        self.now = 100.0
        self.sleeps: list[float] = []
        ica = SimpleNamespace(
            data_linking_batches=FakeCreate(self.script, self.calls, "link"),
            data_update_batches=FakeCreate(self.script, self.calls, "update"),
            analysis_creation_batches=FakeCreate(self.script, self.calls, "analysis"),
        )
        self.sender = Sender(
            ica,  # type: ignore[arg-type]
            "proj",
            max_links,
            poll_initial,
            poll_max,
            poll_timeout,
            self.sleep,
            lambda: self.now,
        )

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def send(self, kind: Kind = "link", *, first_use: bool = True, **kw: Any) -> SendResult:
        return await self.sender.send(kind, CHUNKS[kind], "key-1", first_use=first_use, **kw)


CHUNKS: dict[Kind, Chunk] = {
    "link": Chunk(
        index=0,
        keys=["fil.a", "fil.b"],
        body=SimpleNamespace(
            items=[SimpleNamespace(data_id="fil.a"), SimpleNamespace(data_id="fil.b")]
        ),
        digest="d",
    ),
    "update": Chunk(
        index=0, keys=["fil.a"], body=SimpleNamespace(data_update_groups=["group"]), digest="d"
    ),
    "analysis": Chunk(index=0, keys=["ref"], body="analysis-body", digest="d"),
}


def status(code: int, cls: type[APIStatusError] = APIStatusError) -> APIStatusError:
    return cls(f"HTTP {code}", status=code)


def unreachable(message: str = "refused") -> APIConnectionError:
    return APIConnectionError(message, connect_failed=True)


LOST_NOTE = "; the server may have it (no key (not keyed)); run again with the journal to settle it"


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (status(500), True),
        (status(502), True),
        (status(504), True),
        (status(503), False),
        (status(501), False),
        (status(400), False),
        # A redirect the client could not follow says nothing of what the server did.
        (status(300), True),
        (status(303), True),
        (status(399), True),
        (status(299), False),
        (APIConnectionError("reset"), True),
        (unreachable(), False),
        (ValueError("x"), False),
    ],
)
def test_which_failures_may_hide_a_processed_create(error: Exception, lost: bool) -> None:
    assert is_lost_answer(error) is lost


@pytest.mark.parametrize(("max_links", "sent"), [(10, 10), (1, 2)])
async def test_a_link_create_sends_the_data_ids_retry_safe(max_links: int, sent: int) -> None:
    f = Fixture("b-1", max_links=max_links)
    assert await f.send() == SendResult("b-1", False)
    [(name, args, kwargs)] = f.calls
    assert (name, args) == ("link", ("proj", ["fil.a", "fil.b"]))
    assert set(kwargs) == {"retry_safe", "max_links", "on_retry"}
    assert (kwargs["retry_safe"], kwargs["max_links"]) == (True, sent)


async def test_an_update_create_sends_the_groups_retry_safe() -> None:
    f = Fixture("b-2")
    assert await f.send("update") == SendResult("b-2", False)
    [(name, args, kwargs)] = f.calls
    assert (name, args) == ("update", ("proj", ["group"]))
    assert set(kwargs) == {"retry_safe", "on_retry"}
    assert kwargs["retry_safe"] is True


async def test_an_analysis_create_is_keyed_and_checked_before_every_attempt() -> None:
    attempts: list[None] = []

    async def before() -> None:
        attempts.append(None)

    f = Fixture(Retried(status(503)), "b-3")
    assert await f.send("analysis", before_attempt=before) == SendResult("b-3", False)
    [(name, args, kwargs)] = f.calls
    assert (name, args) == ("analysis", ("proj", "analysis-body"))
    assert set(kwargs) == {"idempotency_key", "on_retry", "before_attempt"}
    assert (kwargs["idempotency_key"], kwargs["before_attempt"]) == ("key-1", before)
    assert len(attempts) == 2


@pytest.mark.parametrize(
    ("retries", "lost"),
    [
        ([status(500)], True),
        ([status(503)], False),
        ([status(502), status(503)], True),
        ([unreachable()], False),
        ([], False),
    ],
)
async def test_a_retried_lost_answer_marks_the_create_lost(
    retries: list[Exception], lost: bool
) -> None:
    f = Fixture(*[Retried(e) for e in retries], "b-1")
    assert await f.send() == SendResult("b-1", lost)


async def test_a_create_in_progress_is_waited_out_with_the_same_key() -> None:
    busy = status(409, IdempotencyInProgressError)
    f = Fixture(busy, busy, "b-4")
    assert await f.send("analysis") == SendResult("b-4", True)
    assert f.sleeps == [1.0, 1.5]
    assert len(f.calls) == 3


async def test_a_create_in_progress_past_poll_timeout_is_in_doubt() -> None:
    busy = status(409, IdempotencyInProgressError)
    f = Fixture(*[busy] * 5)
    result = await f.send("analysis")
    assert f.sleeps == [1.0, 1.5, 2.0]  # 100 + 4.5 is past the deadline of 104
    assert result == SendResult(
        None,
        True,
        "IN_DOUBT",
        "the server was still processing the create sent with Idempotency-Key key-1 when "
        "poll_timeout ran out (409); run again with the journal to pick it up",
    )
    assert not result.final


async def test_the_deadline_is_reached_when_the_clock_gets_there() -> None:
    busy = status(409, IdempotencyInProgressError)
    f = Fixture(*[busy] * 5, poll_initial=1.0, poll_max=0.5, poll_timeout=2.0)
    result = await f.send("analysis")
    assert f.sleeps == [1.0, 1.0]  # poll_max below poll_initial: the initial delay, flat
    assert result.status == "IN_DOUBT"


@pytest.mark.parametrize("first_use", [True, False])
async def test_a_422_is_the_chunks_refusal(first_use: bool) -> None:
    f = Fixture(Retried(status(500)), status(422, IdempotencyConflictError))
    result = await f.send("analysis", first_use=first_use)
    note = (
        ""
        if first_use
        else " (Idempotency-Key key-1 was sent before with this same body: this is the "
        "server's stored refusal of the chunk, not a key conflict)"
    )
    assert result == SendResult(None, True, "REJECTED", "HTTP 422" + note)
    assert result.final


@pytest.mark.parametrize("lost", [True, False])
async def test_refused_credentials_stop_the_run(lost: bool) -> None:
    refusal = AuthenticationError("HTTP 401", status=401)
    f = Fixture(*([Retried(status(500))] if lost else []), refusal)
    result = await f.send()
    assert result == SendResult(
        None,
        lost,
        "IN_DOUBT" if lost else "NOT_SUBMITTED",
        "HTTP 401; the server refused the credentials (an expired token?): run again with new "
        "ones and the journal",
        unsent=not lost,
        refused=refusal,
    )
    assert result.refused is refusal


@pytest.mark.parametrize("cls", [PermissionDeniedError, NotFoundError])
async def test_a_refusal_every_chunk_would_meet_is_raised(cls: type[APIStatusError]) -> None:
    f = Fixture(status(403, cls))
    with pytest.raises(cls):
        await f.send()


@pytest.mark.parametrize(
    ("kind", "ref"), [("analysis", "Idempotency-Key key-1"), ("link", "no key (not keyed)")]
)
async def test_an_unreadable_accepted_answer_is_in_doubt(kind: Kind, ref: str) -> None:
    f = Fixture(ResponseValidationError("bad", model="Batch"))
    assert await f.send(kind) == SendResult(
        None,
        True,
        "IN_DOUBT",
        f"the create was accepted but its answer could not be read (Batch: bad); the server "
        f"has it ({ref}); run again with the journal to settle it",
    )


@pytest.mark.parametrize(
    ("script", "info"),
    [
        ([status(502)], "the create's answer was lost (HTTP 502)" + LOST_NOTE),
        ([APIConnectionError("reset")], "the create's answer was lost (reset)" + LOST_NOTE),
        (
            [Retried(status(500)), status(400)],
            "the create's answer was lost (HTTP 400)" + LOST_NOTE,
        ),
    ],
)
async def test_a_failure_after_a_lost_answer_is_in_doubt(script: list[Any], info: str) -> None:
    f = Fixture(*script)
    assert await f.send() == SendResult(None, True, "IN_DOUBT", info)


@pytest.mark.parametrize(
    ("message", "info"),
    [
        ("cannot reach ica: refused", "cannot reach ica: refused; nothing was sent"),
        ("refused", "cannot reach the server: refused; nothing was sent"),
    ],
)
async def test_a_create_that_never_connected_is_not_submitted(message: str, info: str) -> None:
    f = Fixture(Retried(unreachable()), unreachable(message))
    result = await f.send("analysis")
    assert result == SendResult(None, False, "NOT_SUBMITTED", info, unsent=True)
    assert not result.final


@pytest.mark.parametrize(
    ("code", "status_"),
    [
        (503, "NOT_SUBMITTED"),
        (501, "NOT_SUBMITTED"),
        (408, "NOT_SUBMITTED"),
        (429, "NOT_SUBMITTED"),
        (400, "REJECTED"),
        (499, "REJECTED"),
        (407, "REJECTED"),
    ],
)
async def test_a_refused_create_is_not_submitted_or_rejected(code: int, status_: str) -> None:
    f = Fixture(Retried(status(503)), status(code))
    assert await f.send() == SendResult(None, False, status_, f"HTTP {code}")


async def test_a_lost_answer_of_an_analysis_names_its_key() -> None:
    f = Fixture(status(504))
    assert await f.send("analysis") == SendResult(
        None,
        True,
        "IN_DOUBT",
        "the create's answer was lost (HTTP 504); the server may have it (Idempotency-Key "
        "key-1); run again with the journal to settle it",
    )
