"""The client-wide pause a server's ``Retry-After`` starts, as the dispatcher remembers it.

The limiter enforces the pause (every slot waits for its end); this record lets a caller whose
own deadline falls inside it fail at once instead of waiting past that deadline: at the check
before it asks for a slot, and while it is already waiting for one when the pause begins.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Literal, overload

import anyio
import attrs

from ._concurrency import RateLimiter
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

    def watch(self, scope: anyio.CancelScope, limit: float) -> None:
        """Cancel ``scope`` if a pause begins that ends at or after ``limit``."""
        self._waiting[scope] = limit

    def unwatch(self, scope: anyio.CancelScope) -> None:
        """Stop watching ``scope`` (its wait is over)."""
        self._waiting.pop(scope, None)

    def slot(self, limiter: RateLimiter, limit: float | None) -> _Slot:
        """``limiter.slot()``, whose wait a pause past ``limit`` stops: it enters as ``False``
        then (no slot held), as ``True`` once the slot is held."""
        return _Slot(self, limiter.slot(), limit)

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


class _Slot:
    """A limiter slot whose wait a pause that outlasts the caller's limit gives up."""

    __slots__ = ("_held", "_limit", "_pause", "_slot")

    def __init__(
        self, pause: ClientPause, slot: AbstractAsyncContextManager[None], limit: float | None
    ) -> None:
        self._pause, self._slot, self._limit, self._held = pause, slot, limit, False

    async def __aenter__(self) -> bool:
        if self._limit is None:  # no time of its own: nothing for a pause to cut short
            await self._slot.__aenter__()
            self._held = True
            return True
        with anyio.CancelScope() as watch:
            self._pause.watch(watch, self._limit)
            try:
                await self._slot.__aenter__()
                self._held = True
            finally:
                self._pause.unwatch(watch)
        return self._held

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if not self._held:
            return None
        return await self._slot.__aexit__(exc_type, exc, tb)


def call_limit(now: float, deadline: float | None, per_call: Timeouts | None) -> float | None:
    """When a caller's time ends: its ``total_timeout`` deadline, or sooner a per-call timeout
    (the caller set its own time for the attempt, a wait for a pause included)."""
    ends = [] if deadline is None else [deadline]
    if per_call is not None and per_call.total is not None:
        ends.append(now + per_call.total)
    return min(ends, default=None)
