"""The telemetry of one logical call: its span, its attempts, its retries and limiter waits."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._names import ATTR, METRICS
from ._scrub import scrub_text

if TYPE_CHECKING:
    from ._facade import Telemetry

__all__ = ("Attempt", "Call", "NoopCall")

AttrValue = str | int | float | bool


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


class Call:
    """Span and measurements of one logical call, across all its attempts.

    The span is current while the call runs, so that a token exchange made on the way nests
    under it, and it nests under whatever was current (an orchestrator chunk).
    """

    __slots__ = (
        "_attempts",
        "_base",
        "_name",
        "_operation_attrs",
        "_request_attrs",
        "_span",
        "_status",
        "_telemetry",
        "_token",
        "_tracer",
        "_wait_attrs",
        "_waited",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        tracer: Any,
        name: str,
        base: dict[str, AttrValue],
        operation_attrs: dict[str, AttrValue],
    ) -> None:
        self._telemetry = telemetry
        self._tracer = tracer
        self._name = name
        self._base = base  # method, server address and port: the HTTP metrics' attributes
        self._operation_attrs = operation_attrs  # api and operation: the client metrics'
        # Built once per call, not per attempt.
        self._wait_attrs: dict[str, AttrValue] = {
            ATTR.API: operation_attrs[ATTR.API],
            ATTR.SERVER_ADDRESS: base[ATTR.SERVER_ADDRESS],
        }
        self._request_attrs: dict[str, AttrValue] = {
            **operation_attrs,
            ATTR.HTTP_METHOD: base[ATTR.HTTP_METHOD],
            ATTR.SERVER_ADDRESS: base[ATTR.SERVER_ADDRESS],
        }
        self._span: Any = None
        self._token: Any = None
        self._attempts = 0
        self._waited = 0.0
        self._status: int | None = None

    def __enter__(self) -> Call:
        if self._tracer is not None:
            trace, context = self._telemetry.trace_api()
            # The span's name says the API and operation; its attributes are the HTTP ones.
            span = self._tracer.start_span(
                self._name, kind=trace.SpanKind.CLIENT, attributes=self._base
            )
            # A span the sampler dropped still carries the trace context to nested calls, but
            # nothing needs to be written to it.
            self._token = context.attach(trace.set_span_in_context(span))
            self._span = span if span.is_recording() else None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        error_type = None if exc_type is None else exc_type.__name__
        if error_type is not None:
            self._telemetry.add(
                METRICS.ERRORS, 1, {**self._operation_attrs, ATTR.ERROR_TYPE: error_type}
            )
        if self._token is None:
            return
        trace, context = self._telemetry.trace_api()
        span = self._span
        if span is None:
            context.detach(self._token)
            return
        try:
            # One call: each set_attribute takes the span's lock and validates on its own.
            ending: dict[str, AttrValue] = {ATTR.LIMITER_WAIT: round(self._waited, 6)}
            if self._attempts != 1:
                ending[ATTR.ATTEMPTS] = self._attempts
                if self._attempts > 1:
                    ending[ATTR.RESEND_COUNT] = self._attempts - 1
            if self._status is not None:
                ending[ATTR.HTTP_STATUS] = self._status
            if error_type is not None:
                ending[ATTR.ERROR_TYPE] = error_type
            span.set_attributes(ending)
            if error_type is not None:
                # The message only: a traceback's locals are not ours to export.
                span.set_status(trace.Status(trace.StatusCode.ERROR, scrub_text(str(exc))[:500]))
        finally:
            context.detach(self._token)
            span.end()

    def waiting(self) -> float:
        """Mark the start of a wait for the limiter."""
        return time.perf_counter()

    def attempt(self, waiting_since: float) -> Attempt:
        """The limiter let an attempt go: record the wait and open the attempt's scope."""
        now = time.perf_counter()
        waited = now - waiting_since
        self._waited += waited
        self._attempts += 1
        self._status = None  # an earlier attempt's answer is not this one's
        telemetry = self._telemetry
        telemetry.add(METRICS.LIMITER_WAIT, waited, self._wait_attrs)
        telemetry.add(METRICS.REQUESTS, 1, self._request_attrs)
        telemetry.add(METRICS.ACTIVE_REQUESTS, 1, self._base)
        if telemetry.live is not None:
            telemetry.live.request()
        return Attempt(self, now)

    def answered(self, status: int) -> None:
        """The server answered this call's latest attempt with ``status``."""
        self._status = status

    def retry(self, attempt: int, delay: float, reason: str) -> None:
        """Attempt number ``attempt`` failed for ``reason``; the next one comes after ``delay``."""
        telemetry = self._telemetry
        telemetry.add(METRICS.RETRIES, 1, {**self._operation_attrs, ATTR.ERROR_TYPE: reason})
        if telemetry.live is not None:
            telemetry.live.retried()
        if self._span is not None:
            self._span.add_event(
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
        telemetry.add(
            METRICS.THROTTLED,
            1,
            {
                ATTR.API: self._operation_attrs[ATTR.API],
                ATTR.SERVER_ADDRESS: self._base[ATTR.SERVER_ADDRESS],
                ATTR.HTTP_STATUS: status,
            },
        )
        if telemetry.live is not None:
            telemetry.live.throttled()
        if self._span is not None:
            self._span.add_event("throttled", {ATTR.HTTP_STATUS: status})


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
        call = self._call
        telemetry = call._telemetry
        telemetry.add(METRICS.ACTIVE_REQUESTS, -1, call._base)
        attributes: dict[str, AttrValue] = dict(call._base)
        if exc_type is not None:
            attributes[ATTR.ERROR_TYPE] = exc_type.__name__
        elif call._status is not None:
            attributes[ATTR.HTTP_STATUS] = call._status
            if call._status >= 400:
                attributes[ATTR.ERROR_TYPE] = str(call._status)
        telemetry.record(METRICS.REQUEST_DURATION, time.perf_counter() - self._start, attributes)

    def answered(self, status: int) -> None:
        """The server answered this attempt with ``status``."""
        self._call._status = status
