"""The client-wide pause a server's ``Retry-After`` starts, as the dispatcher remembers it.

The limiter enforces the pause (every slot waits for its end); this record lets a caller whose
own deadline falls inside it fail at once instead of waiting past that deadline.
"""

from __future__ import annotations

import attrs

from ._core._request import Request
from ._errors import RateLimitError

__all__ = ("ClientPause",)


@attrs.define
class ClientPause:
    """The latest end of a pause this client asked its limiter for, on the client's clock.

    Shared by a client and its ``with_options`` copies, like the limiter itself.
    """

    until: float = 0.0
    status: int = 0

    def note(self, now: float, seconds: float, status: int) -> None:
        """Record a pause of ``seconds`` from ``now`` (a pause only ever lengthens)."""
        if now + seconds > self.until:
            self.until, self.status = now + seconds, status

    def refusal(
        self, request: Request, now: float, deadline: float | None, attempt_timeout: float | None
    ) -> RateLimitError | None:
        """The error for a caller whose time ends inside the pause, or ``None`` to wait.

        ``deadline`` is the call's ``total_timeout`` deadline; ``attempt_timeout`` a per-call
        ``timeout`` the caller gave, which a wait for the pause may not outlast either.
        """
        left = self.until - now
        if left <= 0:
            return None
        if not (
            (deadline is not None and self.until >= deadline)
            or (attempt_timeout is not None and left >= attempt_timeout)
        ):
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
