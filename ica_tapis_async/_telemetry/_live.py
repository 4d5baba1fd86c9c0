"""What a person watching a run wants to see now: rates over the last moments, not totals."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final

import attrs

__all__ = ("LiveSnapshot", "LiveStats", "PendingBatch")

_RATE_WINDOW: Final = 10.0  # seconds: long enough to smooth bursts, short enough to follow a cut
_MINUTE: Final = 60.0


@attrs.frozen
class PendingBatch:
    """A batch submitted and not yet finished."""

    kind: str
    chunk_index: int
    batch_id: str
    age_s: float


@attrs.frozen
class LiveSnapshot:
    """The live view at one instant.

    Attributes:
        request_rate: attempts per second over the last 10 seconds.
        limiter_rate: the rate the limiter paces at now, ``None`` when unpaced.
        throttled_per_min: throttled answers (429s) over the last minute.
        retries_per_min: retried attempts over the last minute.
        slowest: the pending batch submitted longest ago, if any.
        pending: how many batches are pending.
    """

    request_rate: float
    limiter_rate: float | None
    throttled_per_min: int
    retries_per_min: int
    slowest: PendingBatch | None
    pending: int

    def describe(self) -> str:
        """One line for a terminal."""
        limit = "unpaced" if self.limiter_rate is None else f"{self.limiter_rate:.1f}/s"
        text = (
            f"{self.request_rate:.1f} req/s (limit {limit}) · "
            f"429s {self.throttled_per_min}/min · retries {self.retries_per_min}/min"
        )
        if self.slowest is not None:
            s = self.slowest
            short = s.batch_id if len(s.batch_id) <= 12 else s.batch_id[:8] + "…"
            text += f" · slowest batch {short} (chunk {s.chunk_index}, {s.age_s:.0f}s)"
        return text


class LiveStats:
    """Rolling counts of requests, throttles and retries, and the batches still pending.

    Args:
        clock: monotonic seconds; tests pass a fake one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: deque[float] = deque()
        self._throttles: deque[float] = deque()
        self._retries: deque[float] = deque()
        self._pending: dict[tuple[str, int], tuple[str, float]] = {}
        self._first: float | None = None  # a run younger than the window is not averaged over it
        self.limiter_rate: Callable[[], float | None] = lambda: None

    def request(self) -> None:
        """Count one attempt sent."""
        now = self._clock()
        if self._first is None:
            self._first = now
        self._requests.append(now)

    def throttled(self) -> None:
        """Count one throttled answer."""
        self._throttles.append(self._clock())

    def retried(self) -> None:
        """Count one retry."""
        self._retries.append(self._clock())

    def batch_pending(self, kind: str, chunk_index: int, batch_id: str) -> None:
        """A batch was submitted (or found again on resume) and is being polled."""
        self._pending.setdefault((kind, chunk_index), (batch_id, self._clock()))

    def batch_finished(self, kind: str, chunk_index: int) -> None:
        """A batch reached its end (or its chunk gave up)."""
        self._pending.pop((kind, chunk_index), None)

    def snapshot(self) -> LiveSnapshot:
        """The view now; drops what has left the windows."""
        now = self._clock()
        _trim(self._requests, now - _RATE_WINDOW)
        _trim(self._throttles, now - _MINUTE)
        _trim(self._retries, now - _MINUTE)
        slowest = None
        if self._pending:
            (kind, index), (batch_id, since) = min(
                self._pending.items(), key=lambda entry: entry[1][1]
            )
            slowest = PendingBatch(kind, index, batch_id, now - since)
        window = _RATE_WINDOW
        if self._first is not None:
            window = min(_RATE_WINDOW, max(1.0, now - self._first))
        return LiveSnapshot(
            request_rate=len(self._requests) / window,
            limiter_rate=self.limiter_rate(),
            throttled_per_min=len(self._throttles),
            retries_per_min=len(self._retries),
            slowest=slowest,
            pending=len(self._pending),
        )


def _trim(window: deque[float], oldest: float) -> None:
    while window and window[0] < oldest:
        window.popleft()
