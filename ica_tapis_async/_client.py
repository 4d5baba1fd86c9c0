"""``IcaClient`` and ``TapisClient``: the session managers users hold."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
import attrs

from ._auth import ApiKeyAuth, IcaAuth, Secret, TapisAuth
from ._checks import check_base_url, check_headers, has_user_info
from ._concurrency import RateLimiter
from ._config import DEFAULT_MAX_BODY_SIZE, ClientConfig, RateLimitPolicy, RetryPolicy, Timeouts
from ._converter import structure
from ._core._request import ICA_V3, PROBLEM_JSON, Request, build_url
from ._core._response import Api
from ._errors import RequestValidationError
from ._redact import redact_url
from ._session import ClientMetrics, Dispatcher, _Auth
from ._telemetry import Telemetry
from ._transport import AiohttpTransport, Transport
from .models import Token
from .resources import (
    AnalysisCreationBatches,
    DataLinkingBatches,
    DataTransfers,
    DataUpdateBatches,
    Tokens,
    Transfers,
)
from .resources._base import Resource
from .resources.ica.tokens import require_token

__all__ = ("IcaClient", "TapisClient")


def _make_dispatcher(api: Api, auth: _Auth, base_url: str, arguments: dict[str, Any]) -> Dispatcher:
    """The dispatcher both clients are built on, from their constructor's ``locals()``."""
    config = _config(base_url, **{name: arguments[name] for name in _SETTINGS})
    session: aiohttp.ClientSession | None = arguments["session"]
    transport: Transport | None = arguments["transport"]
    if transport is not None and session is not None:
        raise RequestValidationError(
            "pass either session or transport, not both", field="transport"
        )
    _check_kind("session", session, aiohttp.ClientSession)
    if session is not None and session.auth is not None:
        # aiohttp would add its Authorization header to ours: a ValueError on every call
        # with a bearer JWT, two sets of credentials with an API key.
        raise RequestValidationError(
            "a session made with auth= sends credentials of its own; lend one without",
            field="session",
        )
    _check_kind("transport", transport, Transport)
    limiter: RateLimiter | None = arguments["limiter"]
    _check_kind("limiter", limiter, RateLimiter)
    _check_kind("telemetry", arguments["telemetry"], Telemetry)
    for name in ("clock", "sleep"):
        if not callable(arguments[name]):
            raise RequestValidationError(
                f"must be callable, got {type(arguments[name]).__name__}", field=name
            )
    return Dispatcher(
        api,
        config,
        auth,
        transport=transport
        or AiohttpTransport(
            session,
            max_connections=config.max_connections,
            max_body_size=config.max_body_size,
        ),
        owns_transport=transport is None,
        limiter=limiter,
        clock=arguments["clock"],
        sleep=arguments["sleep"],
        telemetry=arguments["telemetry"],
    )


def _config(
    base_url: str,
    *,
    timeouts: Timeouts | None,
    retry: RetryPolicy | None,
    rate_limit: RateLimitPolicy | None,
    user_agent: str | None,
    extra_headers: Mapping[str, str] | None,
    max_connections: int,
    unreachable_after: float | None,
    max_body_size: int,
) -> ClientConfig:
    config = ClientConfig(
        base_url=check_base_url(base_url),
        max_connections=max_connections,
        unreachable_after=unreachable_after,
        max_body_size=max_body_size,
    )
    changes: dict[str, Any] = {}
    if timeouts is not None:
        changes["timeouts"] = timeouts
    if retry is not None:
        changes["retry"] = retry
    if rate_limit is not None:
        changes["rate_limit"] = rate_limit
    if user_agent is not None:
        changes["user_agent"] = user_agent
    if extra_headers is not None:
        changes["extra_headers"] = check_headers("extra_headers", extra_headers)
    return attrs.evolve(config, **changes)


def _check_kind(name: str, value: object, kind: type) -> None:
    """``value`` is ``None`` or a ``kind`` (a protocol is checked by its methods)."""
    if value is not None and not isinstance(value, kind):
        raise RequestValidationError(
            f"must be a {kind.__name__}, got {type(value).__name__}", field=name
        )


_SETTINGS = (
    "timeouts",
    "retry",
    "rate_limit",
    "user_agent",
    "extra_headers",
    "max_connections",
    "unreachable_after",
    "max_body_size",
)


class _BaseClient:
    _dispatcher: Dispatcher

    @property
    def config(self) -> ClientConfig:
        """The configuration in force for this client."""
        return self._dispatcher.config

    @property
    def metrics(self) -> ClientMetrics:
        """Requests, retries, throttled answers and errors so far (shared with copies)."""
        return self._dispatcher.metrics

    @property
    def telemetry(self) -> Telemetry:
        """Where this client's spans and metrics go (shared with copies)."""
        return self._dispatcher.telemetry

    @property
    def limiter(self) -> RateLimiter:
        """The client-wide rate limiter (shared with copies): the ``limiter`` passed to the
        constructor, or an :class:`AdaptiveRateLimiter` made from ``rate_limit``."""
        return self._dispatcher.limiter

    @property
    def transport(self) -> Transport:
        """The transport requests go through (shared with copies)."""
        return self._dispatcher.transport

    async def close(self) -> None:
        """Close what the client created (its aiohttp session, its limiter); a borrowed
        session, transport or limiter stays open."""
        await self._dispatcher.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def with_options(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Self:
        """A copy with other defaults that shares the connection pool, auth, limiter and metrics.

        Example::

            patient = ica.with_options(retry=RetryPolicy(max_attempts=10, total_timeout=900))
        """
        changes: dict[str, Any] = {}
        if timeouts is not None:
            changes["timeouts"] = timeouts
        if retry is not None:
            changes["retry"] = retry
        if extra_headers is not None:
            changes["extra_headers"] = check_headers("extra_headers", extra_headers)
        clone = object.__new__(type(self))
        # Cached resources are bound to the old session: the copy makes its own.
        clone.__dict__.update(
            {k: v for k, v in self.__dict__.items() if not isinstance(v, Resource)}
        )
        clone._dispatcher = self._dispatcher.evolve(
            attrs.evolve(self._dispatcher.config, **changes)
        )
        return clone

    def __repr__(self) -> str:
        auth = self._dispatcher.auth
        url = redact_url(self.config.base_url)
        return f"{type(self).__name__}(base_url={url!r}, auth={auth!r})"


class IcaClient(_BaseClient):
    """Async client of the ICA REST API (``/ica/rest``): batches, data transfers, tokens.

    Args:
        base_url: e.g. ``https://ica.illumina.com/ica/rest``.
        api_key: sent as ``X-API-Key`` (or exchanged for a JWT, see ``exchange_api_key``).
        access_token: a JWT sent as ``Authorization: Bearer``; renew it with ``tokens.refresh()``.
        exchange_api_key: exchange the API key for a JWT via ``POST /api/tokens`` (the ICA docs
            recommend JWTs for heavy use), renew it before its ``exp`` and once after a 401.
        session: an ``aiohttp.ClientSession`` to borrow; left open on close.
        timeouts: per-attempt timeouts.
        retry: the default :class:`RetryPolicy`.
        rate_limit: the client-wide :class:`RateLimitPolicy`.
        unreachable_after: seconds of nothing but failed connections (from the first) after
            which every call raises :class:`ServerUnreachableError`; ``None`` to keep retrying.
        max_body_size: the most bytes of an answer's body read (64 MiB by default), as sent
            and once decompressed; a larger success answer raises
            :class:`ResponseValidationError` without the rest being read, an error answer is
            cut there.
        transport: a :class:`Transport` to send requests through instead of aiohttp (not
            closed by the client); not together with ``session``.
        limiter: a :class:`RateLimiter` to pace requests with instead of an
            :class:`AdaptiveRateLimiter` made from ``rate_limit`` (e.g. one shared by several
            processes; not closed by the client).
        clock: monotonic time in seconds, read for deadlines and pacing.
        sleep: awaited for every wait (backoff, ``Retry-After``, pacing); a test passes one
            that advances a fake ``clock``.
        telemetry: where spans and metrics go (:class:`Telemetry`); by default the global
            OpenTelemetry providers, once an SDK is installed there.

    Example::

        async with IcaClient(url, api_key=key) as ica:
            batch = await ica.data_linking_batches.create(project_id, ["fil.1", "fol.2"])
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        exchange_api_key: bool = False,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimitPolicy | None = None,
        user_agent: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        unreachable_after: float | None = 10.0,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        transport: Transport | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        telemetry: Telemetry | None = None,
    ) -> None:
        arguments = dict(locals())
        base_url = check_base_url(base_url)
        auth = IcaAuth(api_key=api_key, access_token=access_token, exchange=exchange_api_key)
        if has_user_info(base_url) and (access_token is not None or exchange_api_key):
            # aiohttp turns user info into an Authorization header, which a bearer JWT needs.
            raise RequestValidationError(
                "user info in base_url (sent as Basic credentials) cannot go with a bearer "
                "JWT; use api_key without exchange_api_key, or drop the user info",
                field="access_token" if access_token is not None else "exchange_api_key",
            )
        self._dispatcher = _make_dispatcher("ica", auth, base_url, arguments)
        auth.bind(self._exchange_api_key)

    async def _exchange_api_key(self, api_key: Secret) -> str:
        # Its own auth, so that the exchange carries the key, not the bearer token being renewed.
        key_dispatcher = self._dispatcher.evolve(auth=ApiKeyAuth(api_key))
        request = Request(
            "POST",
            build_url(self._dispatcher.config.base_url, "/api/tokens"),
            {"Accept": f"{ICA_V3}, {PROBLEM_JSON}"},
            declared_idempotent=True,
            operation="createJwtToken",
        )
        token = require_token(structure(await key_dispatcher.send_json(request), Token))
        return token.token or ""

    @functools.cached_property
    def data_linking_batches(self) -> DataLinkingBatches:
        """Project data linking batches."""
        return DataLinkingBatches(self._dispatcher)

    @functools.cached_property
    def data_update_batches(self) -> DataUpdateBatches:
        """Project data update batches."""
        return DataUpdateBatches(self._dispatcher)

    @functools.cached_property
    def analysis_creation_batches(self) -> AnalysisCreationBatches:
        """Analysis creation batches."""
        return AnalysisCreationBatches(self._dispatcher)

    @functools.cached_property
    def data_transfers(self) -> DataTransfers:
        """Project data transfers."""
        return DataTransfers(self._dispatcher)

    @functools.cached_property
    def tokens(self) -> Tokens:
        """JWT creation and refresh."""
        return Tokens(self._dispatcher)


class TapisClient(_BaseClient):
    """Async client of Tapis Files transfers (``/v3/files/transfers``).

    Args:
        base_url: the tenant's base URL, e.g. ``https://tacc.tapis.io``.
        token: the Tapis JWT, sent as ``X-Tapis-Token``.

    The other arguments are those of :class:`IcaClient`.

    Example::

        async with TapisClient(url, token=jwt) as tapis:
            task = await tapis.transfers.create([ReqTransferElement(src, dst)])
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        session: aiohttp.ClientSession | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimitPolicy | None = None,
        user_agent: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        max_connections: int = 100,
        unreachable_after: float | None = 10.0,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        transport: Transport | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._dispatcher = _make_dispatcher("tapis", TapisAuth(token), base_url, dict(locals()))

    @functools.cached_property
    def transfers(self) -> Transfers:
        """Transfer tasks."""
        return Transfers(self._dispatcher)
