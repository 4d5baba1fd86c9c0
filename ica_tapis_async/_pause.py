"""The client-wide pause a server's ``Retry-After`` starts, as the dispatcher remembers it.

The limiter enforces the pause (every slot waits for its end); this record lets a caller whose
own deadline falls inside it fail at once instead of waiting past that deadline: at the check
before it asks for a slot, and while it is already waiting for one when the pause begins.
"""

from __future__ import annotations

from typing import Literal, overload

import anyio
import attrs

from ._config import Timeouts
from ._core._request import Request
from ._errors import RateLimitError

__all__ = ("ClientPause", "call_limit")


@attrs.define
class ClientPause:
    """The latest end of a pause this client asked its limiter for, on the client's clock.

    Shared by a client and its ``with_options`` copies, like the limiter itself.
    """

    until: float = 0.0
    status: int = 0
    #: Callers waiting for a slot, by the scope that stops their wait, with their time limit.
    _waiting: dict[anyio.CancelScope, float] = attrs.field(factory=dict)

    def note(self, now: float, seconds: float, status: int) -> None:
        """Record a pause of ``seconds`` from ``now``, and stop the waits it outlasts.

        A pause only ever lengthens; a waiter whose limit falls inside it is cancelled out of
        its wait for a slot (it then raises :meth:`refusal`).
        """
        if seconds <= 0 or now + seconds <= self.until:
            return
        self.until, self.status = now + seconds, status
        for scope, limit in list(self._waiting.items()):
            if self.until >= limit:
                scope.cancel()

    def watch(self, scope: anyio.CancelScope, limit: float | None) -> None:
        """Cancel ``scope`` if a pause begins that ends at or after ``limit``."""
        if limit is not None:
            self._waiting[scope] = limit

    def unwatch(self, scope: anyio.CancelScope) -> None:
        """Stop watching ``scope`` (its wait is over)."""
        self._waiting.pop(scope, None)

    @overload
    def refusal(
        self, request: Request, now: float, limit: float | None, *, told: Literal[True]
    ) -> RateLimitError: ...
    @overload
    def refusal(
        self, request: Request, now: float, limit: float | None, *, told: bool = False
    ) -> RateLimitError | None: ...
    def refusal(
        self, request: Request, now: float, limit: float | None, *, told: bool = False
    ) -> RateLimitError | None:
        """The error for a caller whose time (``limit``) ends inside the pause, or ``None``.

        ``told``: :meth:`note` already stopped the caller's wait; the error is due in any case.
        """
        left = max(0.0, self.until - now)
        if not told and (left <= 0 or limit is None or self.until < limit):
            return None
        error = RateLimitError(
            f"{request.method} {request.url} -> not sent: the client is paused for {left:.1f} s "
            f"more (a {self.status} with Retry-After), past this call's deadline",
            status=429,
            method=request.method,
            url=request.url,
            idempotency_key=request.idempotency_key,
        )
        error.retry_after = left
        return error


def call_limit(now: float, deadline: float | None, per_call: Timeouts | None) -> float | None:
    """When a caller's time ends: its ``total_timeout`` deadline, or sooner a per-call timeout
    (the caller set its own time for the attempt, a wait for a pause included)."""
    ends = [] if deadline is None else [deadline]
    if per_call is not None and per_call.total is not None:
        ends.append(now + per_call.total)
    return min(ends, default=None)
