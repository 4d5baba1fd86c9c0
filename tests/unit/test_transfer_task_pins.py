"""Pins of the transfer follower (orchestrator/_transfer_task.py) on a fake Tapis client.

Creating (retries, refusals, recovery by tag), finding a task by its tag and elements, and
following it to a final status, each outcome compared whole; sleeps are recorded, not slept.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from ica_tapis_async._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    PaginationError,
    ResponseValidationError,
)
from ica_tapis_async.orchestrator._transfer_task import Created, TaskFollower

ELEMENTS: list[Any] = [
    SimpleNamespace(source_uri="s2", destination_uri="d2"),
    SimpleNamespace(source_uri="s1", destination_uri="d1"),
]
PARENTS = [
    SimpleNamespace(source_uri=s, destination_uri=d) for s, d in [("s1", "d1"), ("s2", "d2")]
]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def task(uuid: str | None, tag: str = "t", created: float | None = 1000.0) -> Any:
    return SimpleNamespace(uuid=uuid, tag=tag, created=None if created is None else at(created))


class FakeTransfers:
    """``tapis.transfers``: creates and gets answered from scripts, listings from ``recent``."""

    def __init__(self) -> None:
        self.creates: list[Any] = []
        self.gets: list[Any] = []
        self.recent: list[Any] = []
        self.listing_error: Exception | None = None
        self.parents: dict[str, list[Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.on_get: Any = None

    async def create(self, elements: list[Any], **kwargs: Any) -> Any:
        self.calls.append(("create", elements, kwargs))
        step = self.creates.pop(0)
        if isinstance(step, Exception):
            raise step
        return SimpleNamespace(uuid=step)

    async def list_recent(self, **kwargs: Any) -> AsyncIterator[Any]:
        self.calls.append(("list_recent", kwargs))
        if self.listing_error is not None:
            raise self.listing_error
        for one in self.recent:
            yield one

    async def details(self, uuid: str) -> Any:
        self.calls.append(("details", uuid))
        return SimpleNamespace(parent_tasks=self.parents.get(uuid))

    async def get(self, uuid: str, **kwargs: Any) -> Any:
        self.calls.append(("get", uuid, kwargs))
        if self.on_get is not None:
            self.on_get(len([c for c in self.calls if c[0] == "get"]))
        step = self.gets.pop(0)
        if isinstance(step, Exception):
            raise step
        status, complete = step
        # A field that changes on every read but is no progress (bytes of a file in flight).
        polled = len(self.named("get"))
        return SimpleNamespace(status=status, complete_transfers=complete, polled=polled)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == name]


class Fixture:
    def __init__(self, *, poll_initial: float = 1.0, poll_max: float = 3.0, **kw: Any) -> None:
        self.transfers = FakeTransfers()
        self.sleeps: list[float] = []
        self.sends: list[float] = []
        self.send_at: float | None = 1000.0
        self.follower = TaskFollower(
            SimpleNamespace(transfers=self.transfers),  # type: ignore[arg-type]
            poll_initial,
            poll_max,
            kw.pop("poll_timeout", 60.0),
            self.sleep,
            anyio.Event(),
            **kw,
        )

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def on_send(self) -> float | None:
        self.sends.append(0.0)
        return self.send_at

    async def create(self, first_sent_at: float | None = None, **kw: Any) -> Created:
        return await self.follower.create(
            ELEMENTS, "t", first_sent_at=first_sent_at, on_send=self.on_send, **kw
        )

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [c for c in self.transfers.calls if c[0] == name]


def status(code: int) -> APIStatusError:
    return APIStatusError(f"HTTP {code}", status=code)


async def test_a_create_sends_the_elements_and_tag_once() -> None:
    f = Fixture()
    f.transfers.creates = ["u-1"]
    assert await f.create() == Created("u-1")
    assert f.transfers.calls == [("create", ELEMENTS, {"tag": "t"})]
    assert f.transfers.calls[0][1] is not ELEMENTS  # a copy: the caller's list stays its own
    assert len(f.sends) == 1


async def test_a_create_runs_the_check_before_each_attempt() -> None:
    async def before() -> None:
        """Nothing to check here."""

    f = Fixture()
    f.transfers.creates = ["u-1"]
    assert await f.create(before_attempt=before) == Created("u-1")
    assert f.transfers.calls == [("create", ELEMENTS, {"tag": "t", "before_attempt": before})]


async def test_an_answer_without_uuid_is_found_by_its_tag_never_posted_again() -> None:
    # Accepted (a 2xx), so the task exists: another POST would create it twice.
    f = Fixture()
    f.transfers.creates = [""]
    f.transfers.recent = [task("u-9")]
    f.transfers.parents = {"u-9": PARENTS}
    found = await f.create()
    assert found.uuid == "u-9"
    assert len(f.named("create")) == 1


async def test_an_answer_without_uuid_whose_task_is_not_listed_is_unknown() -> None:
    f = Fixture()
    f.transfers.creates = ["", "u-2"]
    assert await f.create() == Created(
        None, error="created, but its answer has no uuid", unknown=True
    )
    assert len(f.named("create")) == 1
    assert len(f.named("list_recent")) == 1


@pytest.mark.parametrize("code", [400, 404, 499])
async def test_a_refused_create_is_final(code: int) -> None:
    f = Fixture()
    f.transfers.creates = [status(code)]
    assert await f.create() == Created(None, error=f"HTTP {code}", final=True)
    assert f.sleeps == []


REFUSED = (
    "HTTP 401; the server refused the run's credentials (an expired token?): run again with "
    "new ones and the journal"
)
NOT_SENT = (
    "not sent: the server refused the run's credentials (HTTP 401); run again with new ones "
    "and the journal"
)


async def test_credentials_refused_are_a_result_and_later_creates_are_not_sent() -> None:
    # A 401 is no exception any more (the run reports what it did): the refused POST was not
    # processed, so with none sent before it is handed back as unsent, and the follower
    # remembers the refusal so that no later create is sent with the same credentials.
    f = Fixture()
    refusal = AuthenticationError("HTTP 401", status=401)
    f.transfers.creates = [refusal]
    assert await f.create() == Created(None, error=REFUSED, refused=True, unsent=1)
    assert f.follower.refused is refusal
    assert await f.create() == Created(None, error=NOT_SENT, refused=True)
    assert await f.create(first_sent_at=1000.0) == Created(
        None, error=NOT_SENT, refused=True, unknown=True
    )
    assert len(f.sends) == 1
    assert len(f.named("create")) == 1
    assert f.named("list_recent") == []  # not even looked for: the look-up would be refused
    assert f.follower.refused is refusal  # the first refusal is kept


async def test_credentials_refused_after_a_create_was_sent_may_have_made_the_task() -> None:
    f = Fixture()
    f.transfers.creates = [status(503), AuthenticationError("HTTP 401", status=401)]
    f.send_at = None  # no look-up between the attempts
    assert await f.create() == Created(
        None,
        error=f"{REFUSED}; a create was sent before, so the task tagged t may exist",
        refused=True,
        unknown=True,
    )
    assert len(f.sends) == 2


async def test_transient_failures_are_retried_with_a_growing_capped_wait() -> None:
    f = Fixture()
    f.send_at = None  # nothing to look up: the attempts' times are unknown
    f.transfers.creates = [status(429), status(500), APIConnectionError("reset")]
    assert await f.create() == Created(None, error="reset")
    assert f.sleeps == [1.0, 2.0, 3.0]
    assert len(f.sends) == 3
    assert f.named("list_recent") == []


async def test_no_attempt_sends_nothing() -> None:
    # Nothing sent, none before: the result says so (not unknown, nothing to take back).
    f = Fixture()
    # (No caller passes attempts=0; the message then has no cause to name.)
    assert await f.create(attempts=0) == Created(
        None, error="cannot reach the server: ; nothing was sent"
    )
    assert f.transfers.calls == []
    # One sent before: it is looked for by its tag, not reported as never sent.
    assert await f.create(first_sent_at=1000.0, attempts=0) == Created(None)
    assert f.transfers.calls == [("list_recent", {"page_size": 100})]


async def test_attempts_bound_the_retries() -> None:
    f = Fixture()
    f.send_at = None
    f.transfers.creates = [status(503), "u-2"]
    assert await f.create(attempts=2) == Created("u-2")
    assert f.sleeps == [1.0]


async def test_a_task_an_earlier_run_created_is_adopted_without_sending() -> None:
    f = Fixture()
    f.transfers.recent = [task("u-0", created=990.0)]
    f.transfers.parents["u-0"] = PARENTS
    assert await f.create(first_sent_at=1000.0) == Created("u-0", recovered=True)
    assert f.sends == []
    assert f.named("list_recent") == [("list_recent", {"page_size": 100})]


async def test_a_lost_answer_is_recovered_by_tag_before_the_next_attempt() -> None:
    f = Fixture()
    f.transfers.creates = [status(502)]
    f.transfers.recent = [task("u-9", created=1001.0)]
    f.transfers.parents["u-9"] = PARENTS
    assert await f.create() == Created("u-9", recovered=True)
    assert len(f.sends) == 1
    assert f.sleeps == [1.0]


async def test_the_last_attempts_lost_answer_is_looked_up_too() -> None:
    f = Fixture()
    f.transfers.creates = [status(502)]
    f.transfers.recent = [task("u-9", created=1001.0)]
    f.transfers.parents["u-9"] = PARENTS
    assert await f.create(attempts=1) == Created("u-9", recovered=True)


async def test_a_failed_look_up_after_the_last_attempt_is_unknown() -> None:
    f = Fixture()
    f.transfers.creates = [status(502)]
    f.transfers.listing_error = status(503)
    result = await f.create(attempts=1)
    assert (result.uuid, result.unknown) == (None, True)


async def test_nothing_found_after_the_attempts_is_the_last_error() -> None:
    f = Fixture()
    f.transfers.creates = [status(502), status(500)]
    assert await f.create(attempts=2) == Created(None, error="HTTP 500")
    assert len(f.named("list_recent")) == 2


@pytest.mark.parametrize(
    "error", [status(503), ResponseValidationError("bad", model="M"), PaginationError("loop")]
)
async def test_a_failed_look_up_is_unknown_never_not_created(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    f = Fixture()
    f.transfers.listing_error = error
    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        result = await f.create(first_sent_at=1000.0)
    assert result == Created(
        None,
        error=(
            f"a create was sent but looking for its task by tag t failed ({error}): the task "
            "may exist; run again with the journal to settle it"
        ),
        unknown=True,
    )
    assert f.sends == []
    assert caplog.messages == [f"looking for the task tagged t failed: {error}"]


async def test_a_look_up_refused_for_credentials_is_a_refused_unknown_result() -> None:
    # A create was sent before (first_sent_at): the task may exist, nothing is sent again.
    f = Fixture()
    refusal = AuthenticationError("HTTP 401", status=401)
    f.transfers.listing_error = refusal
    assert await f.create(first_sent_at=1000.0) == Created(
        None,
        error=f"{REFUSED}; a create was sent before, so the task tagged t may exist",
        refused=True,
        unknown=True,
    )
    assert f.follower.refused is refusal
    assert f.sends == []
    assert f.named("create") == []


async def test_find_adopts_only_a_task_of_this_attempt(caplog: pytest.LogCaptureFixture) -> None:
    f = Fixture(recovery_skew_s=10.0)
    f.transfers.recent = [
        task("other-tag", tag="x", created=1005.0),
        task(None, created=1004.0),
        task("no-date", created=None),
        task("other-elements", created=1003.0),
        task("edge", created=990.0),  # exactly the skew before: still this attempt's
        task("older", created=989.0),  # older: the listing stops here
        task("never", created=1000.0),
    ]
    f.transfers.parents = {"no-date": PARENTS, "other-elements": PARENTS[:1], "edge": PARENTS}
    f.transfers.parents["older"] = f.transfers.parents["never"] = PARENTS
    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        assert await f.follower.find(ELEMENTS, "t", 1000.0) == "edge"
    assert f.named("details") == [("details", "other-elements"), ("details", "edge")]
    assert caplog.messages == ["task other-elements carries tag t but other elements: not adopted"]


async def test_find_stops_at_the_first_older_task() -> None:
    f = Fixture()
    f.transfers.recent = [task("older", created=969.0), task("u", created=1000.0)]
    f.transfers.parents = {"older": PARENTS, "u": PARENTS}
    assert await f.follower.find(ELEMENTS, "t", 1000.0) is None
    assert f.named("details") == []


async def test_find_adopts_within_the_default_skew_and_reads_no_parents_as_none() -> None:
    f = Fixture()
    f.transfers.recent = [task("bare", created=999.0), task("u", created=970.0)]
    f.transfers.parents = {"u": PARENTS}
    assert await f.follower.find(ELEMENTS, "t", 1000.0) == "u"


async def test_wait_follows_the_task_with_backoff_reset_on_progress() -> None:
    f = Fixture()
    f.follower.cancelled.set()  # every sleep is the follower's own
    f.transfers.gets = [
        ("ACCEPTED", 0),
        ("ACCEPTED", 0),
        ("IN_PROGRESS", 0),
        ("IN_PROGRESS", 0),
        ("IN_PROGRESS", 1),
        ("IN_PROGRESS", 1),
        ("IN_PROGRESS", 1),
        ("IN_PROGRESS", 1),
        ("COMPLETED", 2),
    ]
    done = await f.follower.wait("u-1")
    assert not isinstance(done, str)
    assert (done.status, done.complete_transfers) == ("COMPLETED", 2)
    assert f.sleeps == [1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 2.25, 3.0]
    assert f.named("get")[0] == ("get", "u-1", {"include_summary": True})


@pytest.mark.parametrize("final", ["CANCELLED", "FAILED", "PAUSED"])
async def test_wait_ends_at_any_final_status(final: str) -> None:
    f = Fixture()
    f.follower.cancelled.set()
    f.transfers.gets = [("STAGED", 0), (final, 0)]
    done = await f.follower.wait("u-1")
    assert not isinstance(done, str)
    assert done.status == final


async def test_poll_max_below_poll_initial_keeps_the_initial_delay() -> None:
    f = Fixture(poll_initial=2.0, poll_max=1.0)
    f.follower.cancelled.set()
    f.transfers.gets = [("STAGED", 0)] * 3 + [("COMPLETED", 0)]
    await f.follower.wait("u-1")
    assert f.sleeps == [2.0, 2.0, 2.0]


async def test_wait_past_poll_timeout_is_timed_out() -> None:
    f = Fixture(poll_timeout=0.5)
    f.follower.cancelled.set()
    f.transfers.gets = [("STAGED", 0)]
    assert await f.follower.wait("u-1") == "TIMED_OUT"


async def test_a_task_that_cannot_be_read_is_unknown(caplog: pytest.LogCaptureFixture) -> None:
    f = Fixture()
    f.transfers.gets = [status(503)]
    with caplog.at_level(logging.WARNING, "ica_tapis_async.orchestrator"):
        assert await f.follower.wait("u-1") == "UNKNOWN"
    assert caplog.messages == ["reading transfer u-1 failed: HTTP 503"]


async def test_reading_a_task_refused_for_credentials_is_unknown_and_remembered() -> None:
    # The task exists and goes on: UNKNOWN (a run with new credentials follows it again),
    # not retried, and the refusal kept for the run's other requests.
    f = Fixture()
    refusal = AuthenticationError("HTTP 401", status=401)
    f.transfers.gets = [refusal]
    assert await f.follower.wait("u-1") == "UNKNOWN"
    assert f.follower.refused is refusal
    assert len(f.named("get")) == 1
    f.transfers.gets = [AuthenticationError("HTTP 401 again", status=401)]
    assert await f.follower.wait("u-2") == "UNKNOWN"
    assert f.follower.refused is refusal  # the first refusal is kept


async def test_a_cancel_wakes_the_poll_once_then_it_sleeps_as_usual() -> None:
    f = Fixture(poll_initial=0.02, poll_max=0.02)

    def on_get(n: int) -> None:
        if n == 2:
            f.follower.cancelled.set()

    f.transfers.on_get = on_get
    f.transfers.gets = [("STAGED", 0)] * 3 + [("CANCELLED", 0)]
    with anyio.fail_after(5):
        await f.follower.wait("u-1")
    # The first wait is the cancel event's (real, 0.02 s), the second ends at once as the
    # cancel came, then the follower's own sleeps.
    assert f.sleeps == [0.02]


def unreachable(message: str) -> APIConnectionError:
    return APIConnectionError(message, connect_failed=True)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("refused", "cannot reach the server: refused; nothing was sent"),
        ("cannot reach 127.0.0.1:1", "cannot reach 127.0.0.1:1; nothing was sent"),
    ],
)
async def test_attempts_that_never_connected_are_handed_back_unsent(
    message: str, error: str
) -> None:
    # Every POST failed to connect (none left), none before: the journal takes them back.
    f = Fixture()
    f.transfers.creates = [unreachable("first"), unreachable(message)]
    assert await f.create(attempts=2) == Created(None, error=error, unsent=2)
    assert len(f.sends) == 2
    assert f.named("list_recent") == []  # nothing was sent: no task to look for


async def test_one_attempt_that_may_have_left_makes_the_others_not_unsent() -> None:
    f = Fixture()
    f.send_at = None
    f.transfers.creates = [unreachable("refused"), APIConnectionError("reset")]
    assert await f.create(attempts=2) == Created(None, error="reset")


def unreadable() -> ResponseValidationError:
    return ResponseValidationError("not JSON", model="TransferTask")


CREATED_UNREADABLE = "created, but its answer was unreadable: TransferTask: not JSON"


async def test_a_create_accepted_with_an_unreadable_answer_is_not_sent_again() -> None:
    f = Fixture()
    f.send_at = None  # nothing to look up by
    f.transfers.creates = [unreadable(), "never"]
    assert await f.create() == Created(None, error=CREATED_UNREADABLE, unknown=True)
    assert len(f.named("create")) == 1


async def test_a_create_accepted_with_an_unreadable_answer_is_found_by_its_tag() -> None:
    f = Fixture()
    f.transfers.creates = [unreadable()]
    f.transfers.recent = [task("u-9", created=1001.0)]
    f.transfers.parents["u-9"] = PARENTS
    assert await f.create() == Created("u-9", recovered=True)
    assert f.named("list_recent") == [("list_recent", {"page_size": 100})]
    assert f.named("details") == [("details", "u-9")]


async def test_a_create_accepted_with_an_unreadable_answer_and_not_found_is_unknown() -> None:
    f = Fixture()
    f.transfers.creates = [unreadable(), "never"]
    f.transfers.recent = [task("other", tag="x", created=1001.0)]
    assert await f.create() == Created(None, error=CREATED_UNREADABLE, unknown=True)
    assert len(f.named("create")) == 1
    assert len(f.named("list_recent")) == 1


async def test_a_create_accepted_with_an_unreadable_answer_whose_look_up_fails() -> None:
    f = Fixture()
    f.transfers.creates = [unreadable()]
    f.transfers.listing_error = APIConnectionError("reset")
    result = await f.create()
    assert (result.uuid, result.unknown) == (None, True)
    assert result.error == (
        "a create was sent but looking for its task by tag t failed (reset): the task may "
        "exist; run again with the journal to settle it"
    )


async def test_credentials_refused_after_an_unreadable_create_may_have_made_the_task() -> None:
    f = Fixture()
    f.transfers.creates = [unreadable()]
    f.transfers.listing_error = AuthenticationError("HTTP 401", status=401)
    assert await f.create() == Created(
        None,
        error=f"{REFUSED}; a create was sent before, so the task tagged t may exist",
        refused=True,
        unknown=True,
    )
