"""Recognising a server that is down: no attempt has ever connected, for too long."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import anyio

from ._errors import APIConnectionError, ServerUnreachableError

__all__ = ("Reachability",)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Reachability:
    """Whether a client's server has ever been reached, shared by the client and its copies.

    Until the first answer, connection failures are timed from the first one; once they have
    gone on for ``threshold`` seconds the server counts as down and every call fails at once
    with :class:`ServerUnreachableError`. Any answer (whatever its status), or a failure after
    a connection was made, proves the server is there and disarms the check for good: a server
    that was up and drops later gets the usual retries.

    Attributes:
        reached: an answer has come (or the check is off): nothing more to watch.

    Args:
        base_url: named in the error (without any user information).
        threshold: seconds of nothing but connection failures; ``None`` never gives up early.
    """

    def __init__(self, base_url: str, threshold: float | None) -> None:
        self._raw_base_url = base_url
        self._base_url = _without_userinfo(base_url)
        self._threshold = threshold
        self.reached = threshold is None
        self._first_failure: float | None = None
        self._down_for: float | None = None
        self._last_error = ""
        # Backoff sleeps of calls retrying before any answer: woken when the server is declared
        # down, so that they fail now rather than after their (up to max_backoff) wait.
        self._sleepers: set[anyio.CancelScope] = set()

    @property
    def down(self) -> bool:
        """Whether the server has been declared unreachable."""
        return self._down_for is not None

    def answered(self) -> None:
        """Record an answer: the server is there."""
        self.reached = True

    def failed(self, exc: APIConnectionError, now: float) -> bool:
        """Record a failed attempt at ``now``; return whether the server is now counted down."""
        if self.reached or self._threshold is None:
            return False
        if not exc.connect_failed:
            self.reached = True  # a connection was made, then lost: the server exists
            return False
        # The failure names the URL it tried: never repeat user information from it.
        self._last_error = str(exc).replace(self._raw_base_url, self._base_url)
        if self._first_failure is None:
            self._first_failure = now
        elapsed = now - self._first_failure
        if self._down_for is None and elapsed >= self._threshold:
            self._down_for = elapsed
            for scope in self._sleepers:
                scope.cancel()
        return self.down

    async def backoff(self, sleep: Callable[[float], Awaitable[None]], delay: float) -> None:
        """``await sleep(delay)``, cut short if the server is declared down meanwhile."""
        if self.reached:
            await sleep(delay)
            return
        with anyio.CancelScope() as scope:
            self._sleepers.add(scope)
            try:
                await sleep(delay)
            finally:
                self._sleepers.discard(scope)

    def error(self, method: str, url: str) -> ServerUnreachableError:
        """The error that names the server and what was tried."""
        waited = self._down_for or 0.0
        return ServerUnreachableError(
            f"cannot reach {self._base_url}: every connection attempt failed for {waited:.0f} s "
            f"and none has ever succeeded (last: {self._last_error}); is the server up and the "
            "URL right?",
            base_url=self._base_url,
            method=method,
            url=url,
        )
