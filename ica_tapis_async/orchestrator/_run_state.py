"""The running state of one batch run: progress counters, order gates, its refusal."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import anyio
import attrs

from .._client import IcaClient
from .._concurrency._groups import _is_cancellation, leaves
from ._journal_protocol import JournalMismatchError
from ._plan import Kind
from ._report import Progress, ProgressCallback

__all__ = ("Counters", "Gate", "forget", "forget_past", "one_mismatch")


class Counters:
    """Running totals of one run, behind :class:`Progress`."""

    def __init__(self, kind: Kind, ica: IcaClient, callback: ProgressCallback | None) -> None:
        self.kind = kind
        self.run_id = ""
        self.submitted = 0
        self.finished: dict[str, int] = {}
        self.in_flight = 0
        self.batches = 0
        self.all_final = True
        #: Chunks the server answered for (final, or a batch created): the run did something.
        self.accepted = 0
        self._ica = ica
        self._base_requests = ica.metrics.requests
        self._base_throttled = ica.metrics.throttled
        self._callback = callback

    def emit(self) -> None:
        """Send a snapshot to the progress callback, if any."""
        if self._callback is not None:
            self._callback(
                Progress(
                    kind=self.kind,
                    submitted=self.submitted,
                    finished=dict(self.finished),
                    in_flight=self.in_flight,
                    requests=self._ica.metrics.requests - self._base_requests,
                    throttled=self._ica.metrics.throttled - self._base_throttled,
                )
            )


@attrs.define(eq=False)
class Gate:
    """Set when a chunk is finished; ``final`` says whether it reached a final outcome."""

    event: anyio.Event = attrs.field(factory=anyio.Event)
    final: bool = False
    #: Later chunks touching its ids are not sent before this (orchestrator clock): an update
    #: chunk sent twice after a lost answer may have an orphan batch still queued.
    not_before: float = 0.0


def one_mismatch(group: BaseExceptionGroup[BaseException]) -> JournalMismatchError | None:
    """The one :class:`JournalMismatchError` a group of them stands for, or ``None``.

    Input that differs from the journaled run in several chunks (reordered, say) is refused
    by each of them at once: that is one refusal of the input, raised as the first one with
    the count of the others. A group holding any other failure (cancellations aside) stays a
    group: different failures are never hidden.
    """
    real = [exc for exc in leaves(group) if not _is_cancellation(exc)]
    if not real or not all(isinstance(exc, JournalMismatchError) for exc in real):
        return None
    first = real[0]
    assert isinstance(first, JournalMismatchError)
    if len(real) == 1:
        return first
    text = str(first)
    if first.field is not None:
        text = text.removeprefix(f"{first.field}: ")
    more = len(real) - 1
    return JournalMismatchError(
        f"{text} ({more} more chunk{'s' if more > 1 else ''} of this input refused alike)",
        field=first.field,
    )


def forget(gate: Gate, keys: Sequence[str], touching: dict[str, Gate]) -> None:
    """Drop ``gate``'s claims on ``keys`` (a later chunk's claim on a key stays)."""
    for key in keys:
        if touching.get(key) is gate:
            del touching[key]


def forget_past(
    lingering: deque[tuple[Gate, Sequence[str]]], touching: dict[str, Gate], now: float
) -> None:
    """Drop finished chunks whose orphan's window has passed (memory stays bounded)."""
    while lingering and lingering[0][0].not_before <= now:
        forget(*lingering.popleft(), touching)
