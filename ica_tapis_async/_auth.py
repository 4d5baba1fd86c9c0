"""Credentials: ICA API key / JWT (with optional API-key-to-JWT exchange), Tapis token.

Secrets live in :class:`Secret`, whose ``repr`` and ``str`` never show the value, so a client, a
config or an exception that holds one cannot leak it into a log.
"""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import orjson

from ._checks import check_bool, check_header_value, check_text
from ._errors import RequestValidationError

__all__ = ("ApiKeyAuth", "BasicAuth", "IcaAuth", "Secret", "TapisAuth", "jwt_expiry")

log = logging.getLogger("ica_tapis_async.auth")

#: Renew an exchanged JWT this many seconds before its ``exp``.
RENEW_MARGIN_S: Final = 60.0


class Secret:
    """A credential that does not print itself.

    >>> Secret("abc")
    Secret('********')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str, *, field: str | None = None) -> None:
        if not isinstance(value, str) or not value:
            raise RequestValidationError("a credential must be a non-empty string", field=field)
        # It travels in a header: a trailing newline (``open(...).read()``) is refused here,
        # by the argument's name, instead of by aiohttp on every request.
        self._value = check_header_value(field or "credential", value, secret=True)

    def reveal(self) -> str:
        """The secret itself; only for building a request header."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (POSIX seconds) of a JWT, or ``None`` if it has none or is not a JWT.

    The signature is not checked: the server does that; we only want to renew in time.
    """
    return _claim_seconds(token, "exp")


def _claim_seconds(token: str, name: str) -> float | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, orjson.JSONDecodeError):
        return None
    value = claims.get(name) if isinstance(claims, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None


TokenFetcher = Callable[[Secret], Awaitable[str]]


class _Flight:
    """One exchange under way: set ``done`` when it ends; ``error`` if it failed."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: Exception | None = None


class IcaAuth:
    """ICA authentication in one of three modes.

    - ``api_key`` alone: every request carries ``X-API-Key``.
    - ``access_token``: every request carries ``Authorization: Bearer <JWT>``; renewed with
      ``tokens.refresh()`` when the caller asks.
    - ``api_key`` with ``exchange=True``: the key is exchanged for a JWT via ``POST /api/tokens``,
      which is used as a bearer token and exchanged again shortly before its ``exp`` (a JWT made
      from an API key cannot be refreshed), or after a 401.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        exchange: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_bool("exchange_api_key", exchange)
        if api_key is None and access_token is None:
            raise RequestValidationError("IcaClient needs api_key or access_token", field="api_key")
        if exchange and api_key is None:
            raise RequestValidationError("exchange_api_key=True needs an api_key", field="api_key")
        self._api_key = Secret(api_key, field="api_key") if api_key is not None else None
        self._token = (
            Secret(access_token, field="access_token") if access_token is not None else None
        )
        self._exp = jwt_expiry(access_token) if access_token else None
        self._lifetime: float | None = None  # exp - iat of an exchanged token, when it says
        self._exchange = exchange
        self._clock = clock
        # When the exchanged token was issued (our clock) and whether a request carried it yet:
        # a token is never due before its first use, however short-lived it looks.
        self._issued_at = 0.0
        self._used = True
        self._flight: _Flight | None = None  # the exchange under way, if any
        self._fetch: TokenFetcher | None = None
        self.exchanges = 0

    @property
    def api_key(self) -> Secret | None:
        """The API key, if the client has one (``POST /api/tokens`` takes it, never a JWT)."""
        return self._api_key

    def bind(self, fetch: TokenFetcher) -> None:
        """Give the auth the function that performs ``POST /api/tokens`` with an API key."""
        self._fetch = fetch

    @property
    def can_renew(self) -> bool:
        """Whether a 401 can be cured by getting a new token ourselves."""
        return self._exchange

    @property
    def token_expiry(self) -> float | None:
        """POSIX time at which the current bearer JWT expires, if known."""
        return self._exp

    def set_token(self, token: str) -> None:
        """Use ``token`` as the bearer JWT from now on (after a refresh)."""
        self._token = Secret(token)
        self._exp = exp = jwt_expiry(token)
        issued = _claim_seconds(token, "iat")
        # The lifetime the server gave it, by its own clock: ours may be far ahead of it.
        self._lifetime = exp - issued if exp is not None and issued is not None else None

    def current_token(self) -> str | None:
        """The bearer JWT in use, if any (for ``tokens.refresh``)."""
        return self._token.reveal() if self._token else None

    def _needs_exchange(self) -> bool:
        if self._token is None:
            return True
        if self._exp is None or not self._used:
            return False
        if self._lifetime is not None and self._lifetime > 0:
            # Its lifetime (exp - iat, both the server's) counted from when we got it: right
            # however far our clock is from the server's. A short one is renewed half-way.
            margin = min(RENEW_MARGIN_S, self._lifetime / 2)
            return self._clock() >= self._issued_at + self._lifetime - margin
        # No iat: a token that lives less than twice the margin (or that our clock, running
        # ahead of the server's, sees as short-lived) is renewed half-way, not on every call.
        margin = min(RENEW_MARGIN_S, max(0.0, (self._exp - self._issued_at) / 2))
        return self._clock() >= self._exp - margin

    async def headers(self) -> dict[str, str]:
        """Authentication headers for the next attempt, exchanging the API key first if due."""
        if self._exchange:
            if self._needs_exchange():
                await self.renew(stale=self._token)
            assert self._token is not None
            self._used = True
            return {"Authorization": f"Bearer {self._token.reveal()}"}
        if self._token is not None:
            return {"Authorization": f"Bearer {self._token.reveal()}"}
        assert self._api_key is not None
        return {"X-API-Key": self._api_key.reveal()}

    async def renew(self, stale: Secret | None) -> None:
        """Exchange the API key for a new JWT, once even if many coroutines ask at once.

        Callers that ask while an exchange is under way wait for it and share its outcome:
        its token, or its error (raised to each of them), so a failing token endpoint costs
        one exchange per burst, not one per waiter made one after another. If the task
        exchanging is cancelled, one of the waiters exchanges instead.
        """
        if self._fetch is None or self._api_key is None:
            raise RuntimeError("no token fetcher bound")
        while True:
            if self._token is not None and self._token is not stale:
                # Another coroutine renewed it: use that token, even if it already looks due
                # (short-lived, or our clock ahead), or every waiter of a burst would exchange.
                # Compared by identity: a server may answer with the same JWT again.
                return
            flight = self._flight
            if flight is None:
                await self._exchange_now(self._fetch, self._api_key)
                return
            await flight.done.wait()
            if flight.error is not None:
                raise flight.error
            # Neither a token nor an error: the exchanging task was cancelled; take over.

    async def _exchange_now(self, fetch: TokenFetcher, api_key: Secret) -> None:
        flight = self._flight = _Flight()
        try:
            token = await fetch(api_key)
            self.set_token(token)
        except Exception as exc:
            flight.error = exc
            raise
        finally:  # also on cancellation, which leaves no outcome: a waiter takes over
            self._flight = None
            flight.done.set()
        self._issued_at, self._used = self._clock(), False
        self.exchanges += 1
        log.debug("exchanged the API key for a JWT (expires at %s)", self._exp)

    def snapshot(self) -> Secret | None:
        """The token in use now, to tell later whether someone renewed it."""
        return self._token

    def __repr__(self) -> str:
        mode = "jwt-exchange" if self._exchange else ("bearer" if self._token else "api-key")
        return f"IcaAuth(mode={mode!r})"


class TapisAuth:
    """Tapis authentication: ``X-Tapis-Token`` on every request."""

    can_renew = False

    def __init__(self, token: str) -> None:
        self._token = Secret(token, field="token")

    async def headers(self) -> dict[str, str]:
        """The Tapis token header."""
        return {"X-Tapis-Token": self._token.reveal()}

    def snapshot(self) -> Secret | None:
        """The token in use now."""
        return self._token

    async def renew(self, stale: Secret | None) -> None:
        """Tapis tokens are renewed by the caller; nothing to do here."""
        raise RuntimeError("Tapis tokens cannot be renewed by the client")

    def __repr__(self) -> str:
        return "TapisAuth(token=Secret('********'))"


class ApiKeyAuth:
    """Only ``X-API-Key``: what ``POST /api/tokens`` takes (never the bearer JWT it replaces)."""

    can_renew = False

    def __init__(self, key: Secret) -> None:
        self._key = key

    async def headers(self) -> dict[str, str]:
        """The API key header."""
        return {"X-API-Key": self._key.reveal()}

    def snapshot(self) -> Secret | None:
        """The key in use."""
        return self._key

    async def renew(self, stale: Secret | None) -> None:
        """An API key cannot be renewed by the client."""
        raise RuntimeError("an API key cannot be renewed")

    def __repr__(self) -> str:
        return "ApiKeyAuth(key=Secret('********'))"


class BasicAuth:
    """HTTP Basic credentials, which ``POST /api/tokens`` also accepts (user name and password)."""

    can_renew = False

    def __init__(self, username: str, password: str) -> None:
        if not isinstance(username, str) or not username or ":" in username:
            raise RequestValidationError("must be a non-empty name without ':'", field="username")
        if not isinstance(password, str) or not password:
            raise RequestValidationError("must be a non-empty string", field="password")
        check_text("username", username)
        check_text("password", password)
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._header = Secret(f"Basic {pair}")

    async def headers(self) -> dict[str, str]:
        """The Basic authorization header."""
        return {"Authorization": self._header.reveal()}

    def snapshot(self) -> Secret | None:
        """The credentials in use."""
        return self._header

    async def renew(self, stale: Secret | None) -> None:
        """Credentials cannot be renewed by the client."""
        raise RuntimeError("Basic credentials cannot be renewed")

    def __repr__(self) -> str:
        return "BasicAuth(credentials=Secret('********'))"
