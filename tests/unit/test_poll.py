"""poll_until and Backoff: success, failure, max attempts, deadline and the interval schedule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest

from ica_tapis_async import concurrency
from ica_tapis_async._errors import WaiterError as PrivateWaiterError
from ica_tapis_async.concurrency import Backoff, PollState, WaiterError, poll_until

from .fakes import FakeClock


def scripted(values: Sequence[str], clock: FakeClock | None = None, cost: float = 0.0) -> Fetch:
    """A fetch returning ``values`` in turn (the last one forever); each call costs ``cost``."""
    return Fetch(values, clock, cost)


class Fetch:
    """Callable fetch that counts its calls."""

    def __init__(self, values: Sequence[str], clock: FakeClock | None, cost: float) -> None:
        self.values = list(values)
        self.calls = 0
        self.clock = clock
        self.cost = cost

    async def __call__(self) -> str:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        if self.clock is not None:
            self.clock.now += self.cost
        return value


def classify(value: str) -> PollState:
    """'done' succeeds, 'failed' fails, anything else is pending."""
    if value == "done":
        return PollState.SUCCESS
    if value == "failed":
        return PollState.FAILURE
    return PollState.PENDING


async def run(fetch: Callable[[], Awaitable[str]], clock: FakeClock, **kwargs: object) -> str:
    """poll_until on the fake clock."""
    return await poll_until(
        fetch,
        classify,
        name="job 7",
        clock=clock,
        sleep=clock.sleep,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_returns_the_successful_value() -> None:
    """Pending, pending, done: returns 'done' after two sleeps."""
    clock = FakeClock(500.0)
    fetch = scripted(["a", "a", "done"])
    assert await run(fetch, clock) == "done"
    assert fetch.calls == 3
    assert clock.sleeps == [1.0, 1.5]


async def test_success_on_first_fetch_never_sleeps() -> None:
    """An immediate success returns without sleeping."""
    clock = FakeClock(500.0)
    assert await run(scripted(["done"]), clock) == "done"
    assert clock.sleeps == []


async def test_failure_raises_with_the_last_value() -> None:
    """A FAILURE value raises WaiterError(reason='failure') carrying that value."""
    clock = FakeClock(500.0)
    with pytest.raises(WaiterError) as info:
        await run(scripted(["a", "failed"]), clock)
    assert info.value.reason == "failure"
    assert info.value.name == "job 7"
    assert info.value.last_response == "failed"


async def test_max_attempts_stops_after_that_many_fetches() -> None:
    """max_attempts=3 fetches three times, sleeps twice, then raises 'max attempts'."""
    clock = FakeClock(500.0)
    fetch = scripted(["a", "b", "c", "done"])
    with pytest.raises(WaiterError) as info:
        await run(fetch, clock, max_attempts=3)
    assert info.value.reason == "max attempts"
    assert info.value.last_response == "c"
    assert fetch.calls == 3
    assert len(clock.sleeps) == 2


async def test_deadline_stops_before_oversleeping() -> None:
    """With deadline 10, sleeps 1+2+4 fit; the next 8 would pass it, so it raises 'deadline'."""
    clock = FakeClock(500.0)
    fetch = scripted(["a"])
    with pytest.raises(WaiterError) as info:
        await run(fetch, clock, backoff=2.0, deadline=10)
    assert info.value.reason == "deadline"
    assert info.value.last_response == "a"
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert fetch.calls == 4


async def test_deadline_counts_time_spent_fetching() -> None:
    """Slow fetches use up the deadline too."""
    clock = FakeClock(500.0)
    fetch = scripted(["a"], clock, cost=3.0)
    with pytest.raises(WaiterError, match="deadline"):
        await run(fetch, clock, initial_delay=1.0, backoff=1.0, deadline=10)
    assert clock.sleeps == [1.0, 1.0]
    assert fetch.calls == 3


async def test_delay_grows_while_unchanged_and_resets_on_change() -> None:
    """The sleep grows by `backoff` while the value repeats and drops back when it changes."""
    clock = FakeClock(500.0)
    values = ["a", "a", "a", "b", "b", "c", "c", "c", "c", "c", "c", "c", "done"]
    await run(scripted(values), clock, initial_delay=1.0, backoff=2.0, max_delay=10.0)
    assert clock.sleeps == [1.0, 2.0, 4.0, 1.0, 2.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


async def test_custom_changed_decides_what_counts_as_progress() -> None:
    """changed() overrides equality: here only the first letter matters."""
    clock = FakeClock(500.0)

    def first_letter_changed(previous: str, current: str) -> bool:
        return previous[0] != current[0]

    values = ["a1", "a2", "a3", "b1", "done"]
    await run(scripted(values), clock, backoff=2.0, changed=first_letter_changed)
    assert clock.sleeps == [1.0, 2.0, 4.0, 1.0]


async def test_fetch_errors_propagate_untouched() -> None:
    """An exception from fetch is not wrapped."""

    async def broken() -> str:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await run(broken, FakeClock(500.0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"deadline": -1},
        {"initial_delay": -1},
        {"initial_delay": 5, "max_delay": 1},
        {"backoff": 0.5},
    ],
)
async def test_rejects_bad_arguments(kwargs: dict[str, float]) -> None:
    """Out-of-range settings raise ValueError before anything is fetched."""
    fetch = scripted(["done"])
    with pytest.raises(ValueError):
        await run(fetch, FakeClock(500.0), **kwargs)
    assert fetch.calls == 0


def test_backoff_helper_schedule() -> None:
    """Backoff starts at initial, grows while unchanged, caps at maximum, resets on change."""
    delays = Backoff(initial=2.0, maximum=5.0, factor=2.0)
    assert delays.delay is None
    assert [delays.next(changed=False) for _ in range(4)] == [2.0, 4.0, 5.0, 5.0]
    assert delays.next(changed=True) == 2.0
    delays.reset()
    assert delays.delay is None
    assert delays.next(changed=False) == 2.0


def test_poll_state_is_a_string() -> None:
    """PollState members are strs whose values are their lower-case names."""
    assert all(isinstance(state, str) for state in PollState)
    assert [str(state) for state in PollState] == ["success", "failure", "pending"]
    assert PollState("pending") is PollState.PENDING


def test_public_module_exports() -> None:
    """concurrency.__all__ names exist, and WaiterError is the one from _errors."""
    for name in concurrency.__all__:
        assert hasattr(concurrency, name), name
    assert WaiterError is PrivateWaiterError
