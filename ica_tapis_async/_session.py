"""The dispatcher: authentication, redirects, the one retry loop, and the client-wide limiter.

It is called ``Dispatcher`` rather than "session" so that it is never confused with the
``aiohttp.ClientSession`` a transport may hold.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
import attrs

from ._concurrency import AdaptiveRateLimiter, RateLimiter
from ._config import ClientConfig, RequestOptions, RetryPolicy, Timeouts, resolve_options
from ._converter import structure
from ._core._request import Request, merge_headers
from ._core._response import Api, decode_body, error_from_response
from ._core._retry import (
    backoff_delay,
    is_throttle,
    parse_retry_after,
    pauses_client,
    should_retry_status,
)
from ._errors import (
    APIConnectionError,
    IcaTapisError,
    RateLimitError,
    RequestValidationError,
    ResponseValidationError,
)
from ._exchange import exchange
from ._pause import ClientPause, call_limit
from ._reachability import Reachability
from ._redact import redact_url, scrub_chain
from ._telemetry import Telemetry, server_of
from ._telemetry._calls import Call, NoopCall
from ._transport import RawResponse, Transport
from .models import Problem

__all__ = ("ClientMetrics", "Dispatcher", "parse_problem")

log = logging.getLogger("ica_tapis_async")


@attrs.define
class ClientMetrics:
    """Counters shared by a client and its ``with_options`` copies.

    Attributes:
        requests: attempts sent (each retry counts).
        retries: attempts that were repeats of a failed one.
        throttled: answers that asked us to slow down (429).
        errors: calls that ended in an exception.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0


@attrs.define
class _State:
    closed: bool = False
    # Retry backoffs under way: close() cuts them short (the retry could only be refused).
    sleepers: set[anyio.CancelScope] = attrs.field(factory=set)


class _Auth(Protocol):
    @property
    def can_renew(self) -> bool: ...

    async def headers(self) -> dict[str, str]: ...
    async def renew(self, stale: Any) -> None: ...
    def snapshot(self) -> Any: ...


def default_limiter(
    config: ClientConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> AdaptiveRateLimiter:
    """The in-process limiter a client makes from its :class:`RateLimitPolicy`."""
    policy = config.rate_limit
    return AdaptiveRateLimiter(
        rate=policy.rate,
        burst=policy.burst,
        max_in_flight=policy.max_in_flight,
        min_rate=policy.min_rate,
        adaptive=policy.adaptive,
        clock=clock,
        sleep=sleep,
    )


class Dispatcher:
    """Sends :class:`Request` objects through a :class:`Transport` with auth, pacing and retries.

    One dispatcher's state (limiter, metrics, reachability) is shared by a client and all its
    ``with_options`` copies; per-call options are passed to :meth:`send`. ``sleep`` and
    ``clock`` are the only ways it waits and reads time, so a test passes fake ones.
    """

    def __init__(
        self,
        api: Api,
        config: ClientConfig,
        auth: _Auth,
        *,
        transport: Transport,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        owns_transport: bool = True,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.api = api
        self.config = config
        self.auth = auth
        self.transport = transport
        self.limiter: RateLimiter = (
            limiter if limiter is not None else default_limiter(config, clock=clock, sleep=sleep)
        )
        # Close only what we made: a caller's transport or limiter may serve other clients.
        self._owns_transport = owns_transport
        self._owns_limiter = limiter is None
        self._original = True  # not a copy made by ``evolve``
        self.metrics = ClientMetrics()
        self.telemetry = telemetry if telemetry is not None else Telemetry.default()
        self._server = server_of(config.base_url)
        self.telemetry.track_limiter(self.limiter, server_address=self._server[0])
        self.reachability = Reachability(config.base_url, config.unreachable_after)
        self.state = _State()  # shared with copies: a closed client's copies are closed too
        self.sleep = sleep
        self.clock = clock
        self.rand = rand
        self.pause = ClientPause()  # the Retry-After pause in force, shared with copies
        self._base_headers = merge_headers(
            {"User-Agent": config.user_agent}, dict(config.extra_headers)
        )

    def _resolve(self, options: RequestOptions) -> tuple[RetryPolicy, Timeouts, Mapping[str, str]]:
        return resolve_options(self.config, options)

    async def send(self, request: Request, options: RequestOptions | None = None) -> RawResponse:
        """Send ``request``; return a 2xx answer or raise the typed error.

        ``options["before_attempt"]``, when given, is awaited before every attempt once the
        limiter grants it; whatever it raises ends the call unsent (and unretried).

        Raises:
            APIStatusError: an error answer that was not (or no longer) worth retrying.
            ServerUnreachableError: no attempt of this client has ever connected, for longer
                than ``ClientConfig.unreachable_after``.
            APIConnectionError: no answer, after the retries the policy allows.
        """
        if self.state.closed:
            raise _closed()
        options = options or {}
        with self.telemetry.call(self.api, request, *self._server) as call:
            try:
                return await self._send(request, options, call)
            except IcaTapisError as exc:
                scrub_chain(exc)  # aiohttp's chained errors hold the request's credentials
                raise

    async def _send(
        self, request: Request, options: RequestOptions, call: Call | NoopCall
    ) -> RawResponse:
        policy, timeouts, extra = self._resolve(options)
        on_retry = options.get("on_retry")
        before_attempt = options.get("before_attempt")
        start = self.clock()
        deadline = None if policy.total_timeout is None else start + policy.total_timeout
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            if not self.reachability.reached and self.reachability.down:
                self.metrics.errors += 1
                raise self.reachability.error(request.method, request.url)
            # Extra headers go first so that they can never replace the credentials.
            headers = merge_headers(
                self._base_headers, extra, request.headers, await self.auth.headers()
            )
            stale = self.auth.snapshot()  # the credential this attempt carries
            now = self.clock()
            limit = call_limit(now, deadline, timeouts if "timeout" in options else None)
            paused = self.pause.refusal(request, now, limit)
            if paused is not None:
                self.metrics.errors += 1
                raise paused
            refused: Exception | None = None
            try:
                waiting = call.waiting()
                # A pause that begins while we wait for a slot and outlasts our time stops
                # the wait, so nobody waits past its deadline for a pause.
                async with self.pause.slot(self.limiter, limit) as held:
                    if not held:  # only a pause past our limit stops the wait
                        refused = self.pause.refusal(request, self.clock(), limit, told=True)
                    else:
                        # Asked only now: a long wait for the limiter or a Retry-After may
                        # have made the caller's reason to send stale (a lease taken over).
                        refused = await _refusal(before_attempt)
                    if refused is None and self.state.closed:
                        # close() came while this call waited (for a slot, a pause, a retry's
                        # backoff): a borrowed transport would still carry it.
                        refused = _closed()
                    if refused is None:
                        self.metrics.requests += 1
                        with call.attempt(waiting) as sent:
                            response = await exchange(
                                self.transport, request, headers, timeouts,
                                config=self.config, clock=self.clock,
                            )  # fmt: skip
                            sent.answered(response.status)
            except APIConnectionError as exc:
                # Scrubbed now, not only when the call ends: it is handed to on_retry, and it
                # is the __context__ of whatever interrupts the backoff below (the caller's
                # own deadline, a cancellation), which reaches the caller unscrubbed.
                scrub_chain(exc)
                if self.reachability.failed(exc, self.clock()):
                    self.metrics.errors += 1
                    raise self.reachability.error(request.method, request.url) from exc
                delay = backoff_delay(attempt, policy, rand=self.rand)
                # A closed client would only refuse the retry after its backoff: end now.
                if (
                    not request.idempotent
                    or self.state.closed
                    or not self._within_budget(attempt, delay, policy, deadline)
                ):
                    self.metrics.errors += 1
                    raise
                self._log_retry(request, attempt, delay, type(exc).__name__, call)
                if on_retry is not None:
                    on_retry(exc)
                await self.reachability.backoff(self._backoff, delay)
                if self.state.closed:  # closed during the backoff: this is the outcome
                    self.metrics.errors += 1
                    raise
                continue
            except ResponseValidationError:
                self.reachability.answered()  # too large, but an answer: the server is there
                self.metrics.errors += 1  # an answer over max_body_size: not worth another
                raise
            if refused is not None:
                # Raised here, outside the handlers above, so that whatever the hook raised
                # (even a connection error of its own) ends the call as itself, unretried.
                self.metrics.errors += 1
                raise refused
            if not self.reachability.reached:
                self.reachability.answered()

            if response.status < 300:
                await self.limiter.record_success()
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "%s %s -> %s", request.method, redact_url(request.url), response.status
                    )
                return response

            body = _decode_error_body(response)
            if response.status == 401 and self.auth.can_renew and not renewed:
                # An exchanged JWT may expire early or be revoked: exchange once more and retry.
                renewed = True
                await self.auth.renew(stale)
                continue
            throttled = is_throttle(response.status)
            if throttled:
                call.throttled(response.status)
                self.metrics.throttled += 1
                await self.limiter.record_throttle()
            error = error_from_response(
                self.api,
                status=response.status,
                reason=response.reason,
                method=request.method,
                url=request.url,
                headers=response.headers,
                body=body,
                problem=parse_problem(self.api, body),
                idempotency_key=request.idempotency_key,
            )
            # Only a throttle or an outage (429, 503) may pause the client: a Retry-After on
            # a 400 or a 500 is no request to slow down, and would stall every other caller.
            retry_after = (
                parse_retry_after(response.headers, now=time.time())
                if pauses_client(response.status)
                else None
            )
            if isinstance(error, RateLimitError):
                error.retry_after = retry_after
            if retry_after is not None:
                delay = min(retry_after, policy.max_retry_after)
                # The server named a time: hold back every caller of this client, not only us.
                await self.limiter.pause_for(delay)
                self.pause.note(self.clock(), delay, response.status)
            else:
                delay = backoff_delay(attempt, policy, rand=self.rand)
            retry = should_retry_status(
                response.status,
                idempotent=request.idempotent,
                keyed=request.idempotency_key is not None,
                policy=policy,
            ) or (throttled and request.idempotent)
            # The caller told to wait is held to its own time as much as any other caller:
            # a pause past its per-call timeout (or total_timeout) is the error now.
            now = self.clock()
            limit = call_limit(now, deadline, timeouts if "timeout" in options else None)
            paused_past = retry_after is not None and limit is not None and now + delay >= limit
            if (
                not retry
                or paused_past
                or not self._within_budget(attempt, delay, policy, deadline)
            ):
                self.metrics.errors += 1
                raise error
            self._log_retry(request, attempt, delay, str(response.status), call)
            if on_retry is not None:
                on_retry(error)
            await self._backoff(delay)
            if self.state.closed:  # closed during the backoff: this is the outcome
                self.metrics.errors += 1
                raise error

    async def _backoff(self, seconds: float) -> None:
        """``sleep(seconds)`` before a retry, cut short by :meth:`aclose`."""
        if self.state.closed:  # closed between the failure and this wait (on_retry ran)
            return
        with anyio.CancelScope() as scope:
            self.state.sleepers.add(scope)
            try:
                await self.sleep(seconds)
            finally:
                self.state.sleepers.discard(scope)

    def _within_budget(
        self, attempt: int, delay: float, policy: RetryPolicy, deadline: float | None
    ) -> bool:
        if attempt >= policy.max_attempts:
            return False
        return deadline is None or self.clock() + delay < deadline

    def _log_retry(
        self, request: Request, attempt: int, delay: float, why: str, call: Call | NoopCall
    ) -> None:
        self.metrics.retries += 1
        call.retry(attempt, delay, why)
        log.info(
            "retrying %s %s after %s (attempt %d, waiting %.2fs)",
            request.method,
            redact_url(request.url),
            f"HTTP {why}" if why.isdigit() else why,
            attempt,
            delay,
            extra={
                "operation": request.operation,
                "attempt": attempt,
                "wait_s": round(delay, 3),
                "reason": why,
            },
        )

    async def send_json(self, request: Request, options: RequestOptions | None = None) -> Any:
        """:meth:`send`, then decode the JSON body (``None`` for an empty one).

        Raises:
            ResponseValidationError: a success answer whose body is not valid JSON.
        """
        response = await self.send(request, options)
        try:
            return decode_body(response.content_type or "application/json", response.body)
        except ValueError as exc:
            raise ResponseValidationError(
                f"invalid JSON in the answer: {exc}",
                model="(body)",
                method=request.method,
                url=request.url,
            ) from exc

    def evolve(
        self, config: ClientConfig | None = None, *, auth: _Auth | None = None
    ) -> Dispatcher:
        """A dispatcher with another config or auth sharing transport, limiter, metrics and
        reachability."""
        clone = Dispatcher(
            self.api,
            config if config is not None else self.config,
            auth if auth is not None else self.auth,
            transport=self.transport,
            limiter=self.limiter,
            sleep=self.sleep,
            clock=self.clock,
            rand=self.rand,
            telemetry=self.telemetry,
        )
        clone.pause = self.pause
        clone.metrics = self.metrics
        clone.reachability = self.reachability
        clone.state = self.state
        clone._owns_transport = clone._owns_limiter = False  # the original closes them
        clone._original = False
        return clone

    async def aclose(self) -> None:
        """Close the transport and the limiter, if they were made for this client; a copy's
        ``aclose`` closes nothing, and only the original's makes later calls fail."""
        if self._original:
            self.state.closed = True
            for scope in self.state.sleepers:
                scope.cancel()
        try:
            if self._owns_transport:
                await self.transport.aclose()
        finally:
            if self._owns_limiter:
                await self.limiter.aclose()


def _closed() -> RequestValidationError:
    return RequestValidationError("the client is closed; make a new one", field="client")


async def _refusal(hook: Callable[[], Awaitable[None]] | None) -> Exception | None:
    """What the caller's ``before_attempt`` hook raised, if anything: the attempt is off."""
    if hook is None:
        return None
    try:
        await hook()
    except Exception as exc:  # handed back: the caller raises it as the call's outcome
        return exc
    return None


def parse_problem(api: Api, body: Any) -> Problem | None:
    """An ICA error body structured into :class:`Problem`, or ``None`` (Tapis, or malformed)."""
    if api != "ica" or not isinstance(body, dict):
        return None
    try:
        return structure(body, Problem)
    except ResponseValidationError:
        return None  # a malformed problem body is still an error answer


def _decode_error_body(response: RawResponse) -> Any:
    try:
        return decode_body(response.content_type, response.body)
    except ValueError:
        return response.body.decode("utf-8", errors="replace")
