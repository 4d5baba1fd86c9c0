"""Spans and measurements of orchestrator runs and their chunks."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._names import ATTR, METRICS
from ._scrub import scrub_text

if TYPE_CHECKING:
    from ._facade import Telemetry

__all__ = ("ChunkScope", "RunScope", "TaskScope", "batch_known")

AttrValue = str | int | float | bool


class _SpanScope:
    """A span made current for the scope's duration (when tracing is on)."""

    def __init__(self, telemetry: Telemetry, name: str, attributes: dict[str, AttrValue]) -> None:
        self._telemetry = telemetry
        self._name = name
        self._attributes = attributes
        self._span: Any = None
        self._token: Any = None

    def _open(self) -> None:
        tracer = self._telemetry.tracer()
        if tracer is None:
            return
        trace, context = self._telemetry.trace_api()
        self._span = tracer.start_span(self._name, attributes=self._attributes)
        self._token = context.attach(trace.set_span_in_context(self._span))

    def _close(self, exc: BaseException | None) -> None:
        span = self._span
        if span is None:
            return
        trace, context = self._telemetry.trace_api()
        try:
            if exc is not None:
                span.set_attribute(ATTR.ERROR_TYPE, type(exc).__name__)
                span.set_status(trace.Status(trace.StatusCode.ERROR, scrub_text(str(exc))[:500]))
        finally:
            context.detach(self._token)
            span.end()

    def set(self, key: str, value: AttrValue) -> None:
        """Set an attribute on the span (nothing when tracing is off)."""
        if self._span is not None:
            self._span.set_attribute(key, value)

    def event(self, name: str, attributes: Mapping[str, AttrValue] | None = None) -> None:
        """Add an event to the span (nothing when tracing is off)."""
        if self._span is not None:
            self._span.add_event(name, dict(attributes or {}))

    def counts(self, counts: Mapping[str, int]) -> None:
        """Item counts per status as ``ica_tapis.items.<STATUS>`` attributes."""
        if self._span is not None and counts:
            self._span.set_attributes(
                {ATTR.ITEMS_PREFIX + status: count for status, count in counts.items()}
            )


class RunScope(_SpanScope):
    """An orchestrator run: the parent of every chunk span."""

    def __init__(self, telemetry: Telemetry, kind: str, run_id: str) -> None:
        super().__init__(telemetry, f"orchestrator.{kind}", {ATTR.KIND: kind, ATTR.RUN_ID: run_id})

    def __enter__(self) -> RunScope:
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close(exc)


# The chunk being worked on in this task (and the tasks it starts), so that code deep in the
# chunk's work can report its batch without the scope being passed down to it.
_CURRENT_CHUNK: ContextVar[ChunkScope | None] = ContextVar("ica_tapis_chunk", default=None)


def batch_known(batch_id: str, *, resumed: bool = False) -> None:
    """Tell the current chunk scope (if any) which batch it is following."""
    scope = _CURRENT_CHUNK.get()
    if scope is not None:
        scope.submitted(batch_id, resumed=resumed)


class ChunkScope(_SpanScope):
    """One chunk, from submit to its last poll; its requests are its children."""

    def __init__(
        self, telemetry: Telemetry, kind: str, run_id: str, index: int, items: int
    ) -> None:
        super().__init__(
            telemetry,
            f"orchestrator.{kind}.chunk",
            {
                ATTR.KIND: kind,
                ATTR.RUN_ID: run_id,
                ATTR.CHUNK_INDEX: index,
                ATTR.CHUNK_ITEMS: items,
            },
        )
        self._kind = kind
        self._index = index
        self._pending = False
        self._ended = False
        self._current: Token[ChunkScope | None] | None = None

    def __enter__(self) -> ChunkScope:
        self._open()
        self._current = _CURRENT_CHUNK.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._current is not None:
            _CURRENT_CHUNK.reset(self._current)
        if exc is not None and not self._ended:
            self._state("failed")
        self._unpend()
        self._close(exc)

    def _state(self, state: str) -> None:
        self._telemetry.add(METRICS.CHUNKS, 1, {ATTR.KIND: self._kind, ATTR.CHUNK_STATE: state})

    def _unpend(self) -> None:
        live = self._telemetry.live
        if self._pending and live is not None:
            live.batch_finished(self._kind, self._index)
        self._pending = False

    def submitted(self, batch_id: str, *, resumed: bool = False) -> None:
        """The chunk's batch exists: sent now, or found in the journal on resume."""
        self.set(ATTR.BATCH_ID, batch_id)
        self.event("resumed" if resumed else "submitted", {ATTR.BATCH_ID: batch_id})
        self._state("resumed" if resumed else "submitted")
        live = self._telemetry.live
        if live is not None:
            live.batch_pending(self._kind, self._index, batch_id)
            self._pending = True

    def finished(self, counts: Mapping[str, int], *, state: str = "done") -> None:
        """The chunk reached its end with these item counts per final status (once)."""
        if self._ended:
            return
        self._ended = True
        self.counts(counts)
        self.set(ATTR.CHUNK_STATE, state)
        self._state(state)
        for status, count in counts.items():
            if count:
                self._telemetry.add(
                    METRICS.ITEMS, count, {ATTR.KIND: self._kind, ATTR.ITEM_STATUS: status}
                )
        self._unpend()


class TaskScope(_SpanScope):
    """One Tapis transfer task of a run, from its create (or its uuid found in the journal) to
    its final status; its requests are its children."""

    def __init__(self, telemetry: Telemetry, kind: str, run_id: str, index: int) -> None:
        super().__init__(
            telemetry,
            f"orchestrator.{kind}.task",
            {ATTR.KIND: kind, ATTR.RUN_ID: run_id, ATTR.TASK_INDEX: index},
        )
        self._kind = kind
        self._index = index
        self._pending = False

    def __enter__(self) -> TaskScope:
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._unpend()
        self._close(exc)

    def _unpend(self) -> None:
        live = self._telemetry.live
        if self._pending and live is not None:
            live.batch_finished(self._kind, self._index)
        self._pending = False

    def created(self, task_uuid: str, *, resumed: bool = False, recovered: bool = False) -> None:
        """The task exists: created now, found again by its tag after a lost answer
        (``recovered``), or read from the journal (``resumed``)."""
        self.set(ATTR.TASK_UUID, task_uuid)
        event = "resumed" if resumed else "recovered" if recovered else "created"
        self.event(event, {ATTR.TASK_UUID: task_uuid})
        live = self._telemetry.live
        if live is not None:
            live.batch_pending(self._kind, self._index, task_uuid)
            self._pending = True

    def finished(
        self, status: str, *, transfers: int | None = None, complete: int | None = None
    ) -> None:
        """The task's final status (or why it has none) and its file counts when known."""
        if self._span is not None:
            ending: dict[str, AttrValue] = {ATTR.TASK_STATUS: status, ATTR.ITEMS_PREFIX + status: 1}
            if transfers is not None:
                ending[ATTR.TASK_FILES] = transfers
            if complete is not None:
                ending[ATTR.TASK_FILES_DONE] = complete
            self._span.set_attributes(ending)
        self._telemetry.add(METRICS.ITEMS, 1, {ATTR.KIND: self._kind, ATTR.ITEM_STATUS: status})
        self._unpend()
