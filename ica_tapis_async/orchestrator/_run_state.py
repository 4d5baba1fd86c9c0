"""The running state of one batch run: progress counters and order gates."""

from __future__ import annotations

import anyio
import attrs

from .._client import IcaClient
from ._plan import Kind
from ._report import Progress, ProgressCallback

__all__ = ("Counters", "Gate")


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
