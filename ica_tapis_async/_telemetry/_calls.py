"""The telemetry of one logical call: its span, its attempts, its retries and limiter waits.

What a request costs with an SDK installed is mostly the SDK's own work, so a call makes as
few SDK calls as it can: in the common case (one attempt, nothing nested under it) one
``start_span`` with every attribute, one ``end`` and one histogram measurement. Everything
else is kept in this process and read by observable instruments when the SDK collects.
"""

from __future__ import annotations

import functools
import time
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from ._names import ATTR, METRICS
from ._registry import Cell, HistogramCell
from ._scrub import scrub_text

if TYPE_CHECKING:
    from ._facade import Telemetry
    from ._otel import Instruments

__all__ = ("Attempt", "Call", "NoopCall", "Site", "trace_api")

AttrValue = str | int | float | bool
Attributes = dict[str, AttrValue]

#: A call shows ``ica_tapis.limiter.wait_s`` only when the limiter held it back at least this
#: long: a free slot takes a few microseconds of the limiter's own bookkeeping, which says
#: nothing (the wait counter still gets every wait).
WAIT_SHOWN_S: Final = 1e-4

# The call whose span is not made yet, in this task: a call nested in it (a token exchange)
# makes it first, so that it has its parent.
_PENDING: ContextVar[Call | None] = ContextVar("ica_tapis_pending_call", default=None)


class NoopCall:
    """What a call gets when nothing listens: every hook does nothing."""

    __slots__ = ()

    def __enter__(self) -> NoopCall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def waiting(self) -> float:
        """Start of a limiter wait (unused)."""
        return 0.0

    def attempt(self, waiting_since: float) -> NoopCall:
        """An attempt scope that records nothing."""
        return self

    def answered(self, status: int) -> None:
        """The answer's status (ignored)."""

    def retry(self, attempt: int, delay: float, reason: str) -> None:
        """A retry (ignored)."""

    def throttled(self, status: int) -> None:
        """A throttled answer (ignored)."""


class _Outcome:
    """The duration histogram's attributes for one answer status or error, and its series in
    the Prometheus registry (when there is one)."""

    __slots__ = ("attributes", "registry")

    def __init__(self, attributes: Attributes, registry: HistogramCell | None) -> None:
        self.attributes = attributes
        self.registry = registry


class Site:
    """What every call of one operation on one server shares, built on its first call: span
    name, attribute dicts, counter series. A call then builds no dict and no key."""

    __slots__ = (
        "_spans",
        "active",
        "name",
        "operation_attrs",
        "outcomes",
        "requests",
        "server_attrs",
        "span_attrs",
        "telemetry",
        "wait",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        name: str,
        server_attrs: Attributes,
        operation_attrs: Attributes,
    ) -> None:
        counts = telemetry.counts
        self.telemetry = telemetry
        self.name = name
        self.server_attrs = server_attrs  # method, server address and port: the HTTP metrics'
        self.operation_attrs = operation_attrs  # api and operation: the client metrics'
        self.span_attrs = server_attrs
        self.requests: Cell = counts.cell(
            METRICS.REQUESTS,
            {
                **operation_attrs,
                ATTR.HTTP_METHOD: server_attrs[ATTR.HTTP_METHOD],
                ATTR.SERVER_ADDRESS: server_attrs[ATTR.SERVER_ADDRESS],
            },
        )
        self.active: Cell = counts.cell(METRICS.ACTIVE_REQUESTS, server_attrs)
        self.wait: Cell = counts.cell(
            METRICS.LIMITER_WAIT,
            {
                ATTR.API: operation_attrs[ATTR.API],
                ATTR.SERVER_ADDRESS: server_attrs[ATTR.SERVER_ADDRESS],
            },
        )
        self.outcomes: dict[tuple[int | None, str | None], _Outcome] = {}
        self._spans: dict[int | None, Attributes] = {}

    def outcome(self, status: int | None, error_type: str | None) -> _Outcome:
        """The histogram attributes of an attempt answered ``status`` or failed ``error_type``."""
        found = self.outcomes.get((status, error_type))
        if found is not None:
            return found
        attributes = dict(self.server_attrs)
        if error_type is not None:
            attributes[ATTR.ERROR_TYPE] = error_type
        elif status is not None:
            attributes[ATTR.HTTP_STATUS] = status
            if status >= 400:
                attributes[ATTR.ERROR_TYPE] = str(status)
        registry = self.telemetry.registry
        cell = None
        if registry is not None:
            cell = registry.histogram(METRICS.REQUEST_DURATION, attributes)
        made = self.outcomes[(status, error_type)] = _Outcome(attributes, cell)
        return made

    def plain_span(self, status: int | None) -> Attributes:
        """The attributes of a span with one attempt, no error and no wait worth showing."""
        found = self._spans.get(status)
        if found is None:
            found = dict(self.server_attrs)
            if status is not None:
                found[ATTR.HTTP_STATUS] = status
            self._spans[status] = found
        return found


class Call:
    """Span and measurements of one logical call, across all its attempts.

    The span is made when the call ends, with every attribute at once and the call's start
    time, under whatever was current when the call began (an orchestrator chunk). It is made
    earlier, and made current, only when something needs it: a retry or a throttled answer
    (its events, and the retry's log line), or a call nested in this one (a token exchange).
    """

    __slots__ = (
        "_attempts",
        "_instruments",
        "_parent",
        "_pending",
        "_site",
        "_span",
        "_start_ns",
        "_status",
        "_telemetry",
        "_token",
        "_tracer",
        "_waited",
    )

    def __init__(
        self, telemetry: Telemetry, tracer: Any, instruments: Instruments | None, site: Site
    ) -> None:
        self._telemetry = telemetry
        self._tracer = tracer
        self._instruments = instruments
        self._site = site
        self._span: Any = None
        self._token: Any = None
        self._parent: Any = None
        self._pending: Token[Call | None] | None = None
        self._start_ns = 0
        self._attempts = 0
        self._waited = 0.0
        self._status: int | None = None

    def __enter__(self) -> Call:
        if self._tracer is not None:
            self._start_ns = time.time_ns()
            outer = _PENDING.get()
            if outer is not None:
                outer.open_span()  # this call's parent must exist before it is captured
            self._parent = trace_api()[1].get_current()
            self._pending = _PENDING.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        site = self._site
        error_type = None if exc_type is None else exc_type.__name__
        if error_type is not None:
            self._telemetry.add(
                METRICS.ERRORS, 1, {**site.operation_attrs, ATTR.ERROR_TYPE: error_type}
            )
        if self._waited:
            site.wait.value += self._waited
        pending = self._pending
        if pending is None:
            return
        # Ended: a task started inside this call that outlives it must not open its span.
        self._pending = None
        _PENDING.reset(pending)
        trace, context, client = trace_api()
        span = self._span
        if (
            span is None
            and error_type is None
            and self._attempts == 1
            and self._waited < WAIT_SHOWN_S
        ):
            # The common case: one SDK call makes the span, attributes and all.
            self._tracer.start_span(
                site.name,
                self._parent,
                client,
                site.plain_span(self._status),
                start_time=self._start_ns,
            ).end()
            return
        ending = self._ending(error_type)
        if span is None:
            span = self._tracer.start_span(
                site.name,
                self._parent,
                client,
                {**site.span_attrs, **ending},
                start_time=self._start_ns,
            )
        else:
            span.set_attributes(ending)
        try:
            if error_type is not None:
                # The message only: a traceback's locals are not ours to export.
                span.set_status(trace.Status(trace.StatusCode.ERROR, scrub_text(str(exc))[:500]))
        finally:
            if self._token is not None:
                context.detach(self._token)
            span.end()

    def _ending(self, error_type: str | None) -> Attributes:
        ending: Attributes = {}
        if self._waited >= WAIT_SHOWN_S:
            ending[ATTR.LIMITER_WAIT] = round(self._waited, 6)
        if self._attempts != 1:
            ending[ATTR.ATTEMPTS] = self._attempts
            if self._attempts > 1:
                ending[ATTR.RESEND_COUNT] = self._attempts - 1
        if self._status is not None:
            ending[ATTR.HTTP_STATUS] = self._status
        if error_type is not None:
            ending[ATTR.ERROR_TYPE] = error_type
        return ending

    def open_span(self) -> Any:
        """Make the call's span now (started when the call began) and make it current; the
        same span from then on. ``None`` when tracing is off or the call has ended."""
        if self._span is None and self._pending is not None:
            trace, context, client = trace_api()
            site = self._site
            self._span = self._tracer.start_span(
                site.name, self._parent, client, site.span_attrs, start_time=self._start_ns
            )
            self._token = context.attach(trace.set_span_in_context(self._span, self._parent))
        return self._span

    def waiting(self) -> float:
        """Mark the start of a wait for the limiter."""
        return time.perf_counter()

    def attempt(self, waiting_since: float) -> Attempt:
        """The limiter let an attempt go: count the wait and open the attempt's scope."""
        now = time.perf_counter()
        self._waited += now - waiting_since
        self._attempts += 1
        self._status = None  # an earlier attempt's answer is not this one's
        site = self._site
        site.requests.value += 1
        site.active.value += 1
        live = self._telemetry.live
        if live is not None:
            live.request()
        return Attempt(self, now)

    def answered(self, status: int) -> None:
        """The server answered this call's latest attempt with ``status``."""
        self._status = status

    def retry(self, attempt: int, delay: float, reason: str) -> None:
        """Attempt number ``attempt`` failed for ``reason``; the next one comes after ``delay``."""
        telemetry = self._telemetry
        telemetry.add(METRICS.RETRIES, 1, {**self._site.operation_attrs, ATTR.ERROR_TYPE: reason})
        if telemetry.live is not None:
            telemetry.live.retried()
        span = self.open_span()
        if span is not None:
            span.add_event(
                "retry",
                {
                    ATTR.RETRY_ATTEMPT: attempt,
                    ATTR.RETRY_WAIT: round(delay, 6),
                    ATTR.RETRY_REASON: reason,
                },
            )

    def throttled(self, status: int) -> None:
        """The latest answer asked us to slow down."""
        telemetry = self._telemetry
        site = self._site
        telemetry.add(
            METRICS.THROTTLED,
            1,
            {
                ATTR.API: site.operation_attrs[ATTR.API],
                ATTR.SERVER_ADDRESS: site.server_attrs[ATTR.SERVER_ADDRESS],
                ATTR.HTTP_STATUS: status,
            },
        )
        if telemetry.live is not None:
            telemetry.live.throttled()
        span = self.open_span()
        if span is not None:
            span.add_event("throttled", {ATTR.HTTP_STATUS: status})


class Attempt:
    """One HTTP attempt: times it and keeps the in-flight count right whatever happens."""

    __slots__ = ("_call", "_start")

    def __init__(self, call: Call, start: float) -> None:
        self._call = call
        self._start = start

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        duration = time.perf_counter() - self._start
        call = self._call
        site = call._site
        site.active.value -= 1
        if exc_type is not None:
            outcome = site.outcome(None, exc_type.__name__)
        else:
            outcome = site.outcomes.get((call._status, None)) or site.outcome(call._status, None)
        if call._instruments is not None:
            call._instruments.duration.record(duration, outcome.attributes)
        if outcome.registry is not None:
            outcome.registry.observe(duration)

    def answered(self, status: int) -> None:
        """The server answered this attempt with ``status``."""
        self._call._status = status


@functools.cache
def trace_api() -> tuple[Any, Any, Any]:
    """``(opentelemetry.trace, opentelemetry.context, SpanKind.CLIENT)``; only called once a
    tracer exists (the API is installed)."""
    from opentelemetry import context, trace

    return trace, context, trace.SpanKind.CLIENT
