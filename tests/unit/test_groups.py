"""The one exception-group policy used by fan_out, the orchestrator and the command line."""

from __future__ import annotations

import asyncio

from ica_tapis_async._concurrency import representative, single_failure


def test_a_lone_failure_is_itself() -> None:
    """A group of one (however nested) stands for that one."""
    error = ValueError("bad")
    assert single_failure(ExceptionGroup("g", [ExceptionGroup("h", [error])])) is error


def test_the_same_failure_many_times_is_one() -> None:
    """The same type and message in every task (a 401 everywhere) collapses to the first."""
    first, second = PermissionError("401 no"), PermissionError("401 no")
    assert single_failure(ExceptionGroup("g", [first, second])) is first


def test_different_failures_stay_a_group() -> None:
    """Different messages or types are never hidden behind one of them."""
    assert single_failure(ExceptionGroup("g", [ValueError("0"), ValueError("1")])) is None
    assert single_failure(ExceptionGroup("g", [ValueError("x"), KeyError("x")])) is None


def test_cancellations_beside_a_failure_are_dropped() -> None:
    """Tasks cancelled because of a failure do not hide it."""
    error = RuntimeError("boom")
    group = BaseExceptionGroup("g", [asyncio.CancelledError(), error, asyncio.CancelledError()])
    assert single_failure(group) is error


def test_only_cancellations_is_a_cancellation() -> None:
    """A group of nothing but cancellations stands for a cancellation."""
    cancelled = asyncio.CancelledError()
    assert single_failure(BaseExceptionGroup("g", [cancelled])) is cancelled


def test_representative_picks_the_first_real_failure_of_a_mixed_group() -> None:
    """For a one-line report, a mixed group is shown by its first non-cancellation."""
    error = KeyError("k")
    group = BaseExceptionGroup("g", [asyncio.CancelledError(), error, ValueError("v")])
    assert representative(group) is error
    plain = OSError("x")
    assert representative(plain) is plain
