"""The one waiter loop: fetch, classify, back off while unchanged, give up with WaiterError."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import anyio

from .._errors import WaiterError

__all__ = ("Backoff", "PollState", "poll_until")

T = TypeVar("T")

logger = logging.getLogger(__name__)


class PollState(enum.StrEnum):
    """What a fetched value means to a waiter."""

    SUCCESS = "success"
    """Done: return the value."""
    FAILURE = "failure"
    """Final, but not what was wanted: raise ``WaiterError(reason="failure")``."""
    PENDING = "pending"
    """Not final yet: wait and fetch again."""


class Backoff:
    """A polling interval that grows while nothing changes and resets when something does.

    Args:
        initial: the first delay, and the delay after every change (seconds, >= 0).
        maximum: the delay never grows past this.
        factor: the delay is multiplied by this after each unchanged poll (>= 1).

    Raises:
        ValueError: if the arguments are out of range.

    Example::

        delays = Backoff(initial=1.0, maximum=30.0, factor=1.5)
        while pending:
            counts = await poll_all_batches()
            await anyio.sleep(delays.next(changed=counts != previous))
            previous = counts
    """

    def __init__(self, initial: float = 1.0, maximum: float = 30.0, factor: float = 1.5) -> None:
        if initial < 0 or maximum < initial or factor < 1:
            raise ValueError(
                f"need 0 <= initial <= maximum and factor >= 1, "
                f"not initial={initial!r}, maximum={maximum!r}, factor={factor!r}"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._delay: float | None = None

    @property
    def delay(self) -> float | None:
        """The delay last returned by ``next()``, or ``None`` before the first call."""
        return self._delay

    def next(self, changed: bool) -> float:
        """Return the next delay: ``initial`` on the first call or after a change, else grown.

        Args:
            changed: whether the polled value changed since the previous poll.

        Returns:
            Seconds to wait before the next poll.
        """
        if self._delay is None or changed:
            self._delay = self.initial
        else:
            self._delay = min(self.maximum, self._delay * self.factor)
        return self._delay

    def reset(self) -> None:
        """Start over: the next ``next()`` returns ``initial``."""
        self._delay = None


class _Unset:
    """Marks "no previous value" (``None`` can be a fetched value)."""


_UNSET: Final = _Unset()


async def poll_until(
    fetch: Callable[[], Awaitable[T]],
    classify: Callable[[T], PollState],
    *,
    name: str,
    initial_delay: float = 1.0,
    max_delay: float = 30.0,
    backoff: float = 1.5,
    max_attempts: int | None = None,
    deadline: float | None = None,
    changed: Callable[[T, T], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """Poll ``fetch`` until ``classify`` calls the value final, and return that value.

    Between polls it sleeps ``initial_delay``, multiplied by ``backoff`` after each poll whose
    value did not change (up to ``max_delay``), and back to ``initial_delay`` after one that
    did: a batch that is making progress is watched closely, a stuck one less often.
    Exceptions from ``fetch`` and ``classify`` propagate untouched; the session has already
    retried transient HTTP failures.

    Args:
        fetch: gets the current value (e.g. one page of a batch's items).
        classify: maps a value to :class:`PollState`.
        name: what is awaited, for the error message and logs.
        initial_delay: first delay, and the delay after a change (seconds).
        max_delay: the delay never grows past this.
        backoff: growth factor while the value is unchanged (>= 1).
        max_attempts: give up after this many fetches (``None``: no limit).
        deadline: give up rather than sleep past this many seconds from the start
            (``None``: no limit). Time spent inside ``fetch`` counts.
        changed: ``changed(previous, current)``; defaults to ``previous != current``.
        clock: monotonic time source; tests pass a fake one.
        sleep: awaited between polls; tests pass one that advances the fake clock.

    Returns:
        The value classified as :attr:`PollState.SUCCESS`.

    Raises:
        WaiterError: with ``reason`` ``"failure"`` (a value classified FAILURE),
            ``"max attempts"`` or ``"deadline"``; ``last_response`` is the last value fetched.
        ValueError: if the delays, ``max_attempts`` or ``deadline`` are out of range.

    Example::

        batch = await poll_until(
            lambda: client.data_linking_batches.get(batch_id),
            lambda b: PollState.SUCCESS if b.status in DONE else PollState.PENDING,
            name=f"linking batch {batch_id}",
            deadline=3600,
        )
    """
    if max_attempts is not None and max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1 or None, not {max_attempts!r}")
    if deadline is not None and deadline < 0:
        raise ValueError(f"deadline must be >= 0 or None, not {deadline!r}")
    delays = Backoff(initial_delay, max_delay, backoff)
    differs = changed if changed is not None else _differs
    start = clock()
    previous: T | _Unset = _UNSET
    attempt = 0
    while True:
        current = await fetch()
        attempt += 1
        state = classify(current)
        logger.debug("waiter %r attempt %d: %s", name, attempt, state)
        if state == PollState.SUCCESS:
            return current
        if state == PollState.FAILURE:
            raise WaiterError(name, "failure", current)
        if max_attempts is not None and attempt >= max_attempts:
            raise WaiterError(name, "max attempts", current)
        delay = delays.next(isinstance(previous, _Unset) or differs(previous, current))
        if deadline is not None and clock() - start + delay > deadline:
            raise WaiterError(name, "deadline", current)
        previous = current
        await sleep(delay)


def _differs(previous: T, current: T) -> bool:
    """Default change test: inequality."""
    return bool(previous != current)
