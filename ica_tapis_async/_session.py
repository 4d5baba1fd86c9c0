"""The session: authentication, the one retry loop, and the client-wide rate limiter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio
import attrs

from ._concurrency import AdaptiveRateLimiter
from ._config import ClientConfig, RequestOptions, RetryPolicy, Timeouts
from ._core._request import Request, merge_headers
from ._core._response import Api, decode_body, error_from_response
from ._core._retry import backoff_delay, is_throttle, parse_retry_after, should_retry_status
from ._errors import APIConnectionError, RateLimitError, ResponseValidationError
from ._telemetry import Telemetry, server_of
from ._telemetry._calls import Call, NoopCall
from ._transport import AiohttpTransport, RawResponse

__all__ = ("ClientMetrics", "Session")

log = logging.getLogger("ica_tapis_async")


@attrs.define
class ClientMetrics:
    """Counters shared by a client and its ``with_options`` copies.

    Attributes:
        requests: attempts sent (each retry counts).
        retries: attempts that were repeats of a failed one.
        throttled: answers that asked us to slow down (429 and throttling bodies).
        errors: calls that ended in an exception.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: int = 0


class _Auth(Protocol):
    @property
    def can_renew(self) -> bool: ...

    async def headers(self) -> dict[str, str]: ...
    async def renew(self, stale: Any) -> None: ...
    def snapshot(self) -> Any: ...


def _limiter_for(config: ClientConfig) -> AdaptiveRateLimiter:
    policy = config.rate_limit
    return AdaptiveRateLimiter(
        rate=policy.rate,
        burst=policy.burst,
        max_in_flight=policy.max_in_flight,
        min_rate=policy.min_rate,
        adaptive=policy.adaptive,
    )


class Session:
    """Sends :class:`Request` objects with auth, pacing and retries.

    One session is shared by a client and all its ``with_options`` copies; per-call options are
    passed to :meth:`send`.
    """

    def __init__(
        self,
        api: Api,
        config: ClientConfig,
        auth: _Auth,
        *,
        transport: AiohttpTransport,
        limiter: AdaptiveRateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.api = api
        self.config = config
        self.auth = auth
        self.transport = transport
        self.limiter = limiter if limiter is not None else _limiter_for(config)
        self.metrics = ClientMetrics()
        self.telemetry = telemetry if telemetry is not None else Telemetry.default()
        self._server = server_of(config.base_url)
        self.telemetry.track_limiter(self.limiter, server_address=self._server[0])
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._base_headers = merge_headers(
            {"User-Agent": config.user_agent}, dict(config.extra_headers)
        )

    def _resolve(self, options: RequestOptions) -> tuple[RetryPolicy, Timeouts, Mapping[str, str]]:
        policy = options.get("retry", self.config.retry)
        if "max_retries" in options:
            policy = attrs.evolve(policy, max_attempts=options["max_retries"] + 1)
        timeout = options.get("timeout", self.config.timeouts)
        if not isinstance(timeout, Timeouts):
            timeout = attrs.evolve(self.config.timeouts, total=timeout)
        return policy, timeout, options.get("extra_headers", {})

    async def send(self, request: Request, options: RequestOptions | None = None) -> RawResponse:
        """Send ``request``; return a 2xx answer or raise the typed error.

        Raises:
            APIStatusError: an error answer that was not (or no longer) worth retrying.
            APIConnectionError: no answer, after the retries the policy allows.
        """
        options = options or {}
        with self.telemetry.call(self.api, request, *self._server) as call:
            return await self._send(request, options, call)

    async def _send(
        self, request: Request, options: RequestOptions, call: Call | NoopCall
    ) -> RawResponse:
        policy, timeouts, extra = self._resolve(options)
        on_retry = options.get("on_retry")
        start = self._clock()
        deadline = None if policy.total_timeout is None else start + policy.total_timeout
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            # Extra headers go first so that they can never replace the credentials.
            headers = merge_headers(
                self._base_headers, extra, request.headers, await self.auth.headers()
            )
            stale = self.auth.snapshot()  # the credential this attempt carries
            try:
                waiting = call.waiting()
                async with self.limiter.slot():
                    self.metrics.requests += 1
                    with call.attempt(waiting) as sent:
                        response = await self.transport.send(
                            request.method, request.url, headers, request.body, timeouts
                        )
                        sent.answered(response.status)
            except APIConnectionError as exc:
                delay = backoff_delay(attempt, policy, rand=self._rand)
                if not request.retryable or not self._may_retry(attempt, delay, policy, deadline):
                    self.metrics.errors += 1
                    raise
                self._log_retry(request, attempt, delay, type(exc).__name__, call)
                if on_retry is not None:
                    on_retry(exc)
                await self._sleep(delay)
                continue

            if response.status < 400:
                self.limiter.record_success()
                log.debug("%s %s -> %s", request.method, request.url, response.status)
                return response

            body = _decode_error_body(response)
            if response.status == 401 and self.auth.can_renew and not renewed:
                # An exchanged JWT may expire early or be revoked: exchange once more and retry.
                renewed = True
                await self.auth.renew(stale)
                continue
            throttled = is_throttle(response.status, body)
            if throttled:
                call.throttled(response.status)
                self.metrics.throttled += 1
                self.limiter.record_throttle()
            error = error_from_response(
                self.api,
                status=response.status,
                reason=response.reason,
                method=request.method,
                url=request.url,
                headers=response.headers,
                body=body,
                idempotency_key=request.idempotency_key,
            )
            retry_after = parse_retry_after(response.headers, now=time.time())
            if isinstance(error, RateLimitError):
                error.retry_after = retry_after
            delay = (
                min(retry_after, policy.max_retry_after)
                if retry_after is not None
                else backoff_delay(attempt, policy, rand=self._rand)
            )
            retry = should_retry_status(
                response.status,
                retryable=request.retryable,
                keyed=request.idempotency_key is not None,
                policy=policy,
            ) or (throttled and request.retryable)
            if not retry or not self._may_retry(attempt, delay, policy, deadline):
                self.metrics.errors += 1
                raise error
            self._log_retry(request, attempt, delay, str(response.status), call)
            if on_retry is not None:
                on_retry(error)
            await self._sleep(delay)

    def _may_retry(
        self, attempt: int, delay: float, policy: RetryPolicy, deadline: float | None
    ) -> bool:
        if attempt >= policy.max_attempts:
            return False
        return deadline is None or self._clock() + delay < deadline

    def _log_retry(
        self, request: Request, attempt: int, delay: float, why: str, call: Call | NoopCall
    ) -> None:
        self.metrics.retries += 1
        call.retry(attempt, delay, why)
        log.info(
            "retrying %s %s after %s (attempt %d, waiting %.2fs)",
            request.method,
            request.url,
            why if not why.isdigit() else f"HTTP {why}",
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

    def evolve(self, config: ClientConfig) -> Session:
        """A session with another config sharing auth, transport, limiter and metrics."""
        clone = Session(
            self.api,
            config,
            self.auth,
            transport=self.transport,
            limiter=self.limiter,
            sleep=self._sleep,
            clock=self._clock,
            rand=self._rand,
            telemetry=self.telemetry,
        )
        clone.metrics = self.metrics
        return clone

    async def aclose(self) -> None:
        """Close the transport if it owns its aiohttp session."""
        await self.transport.close()


def _decode_error_body(response: RawResponse) -> Any:
    try:
        return decode_body(response.content_type, response.body)
    except ValueError:
        return response.body.decode("utf-8", errors="replace")
