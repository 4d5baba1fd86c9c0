"""One attempt on the wire: send, and follow the redirects it leads to, under one deadline."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import attrs

from ._config import ClientConfig, Timeouts
from ._core._redirect import REDIRECT_STATUSES, next_hop
from ._core._request import Request
from ._errors import APIConnectionError, APITimeoutError
from ._redact import redact_url
from ._transport import RawResponse, Transport, body_too_large

__all__ = ("exchange",)

redirect_log = logging.getLogger("ica_tapis_async.transport")


async def exchange(
    transport: Transport,
    request: Request,
    headers: Mapping[str, str],
    timeouts: Timeouts,
    *,
    config: ClientConfig,
    clock: Callable[[], float],
) -> RawResponse:
    """One attempt: send, and follow redirects (credentials stay on their origin).

    The attempt's ``timeouts.total`` covers every hop: each redirect followed gets only what
    is left of it. A success body over ``config.max_body_size`` is refused, an error answer's
    cut there, whatever the transport.

    Raises:
        APITimeoutError: the attempt's time ran out, on a hop or between hops.
        APIConnectionError: no answer, too many redirects, or a ``Location`` that is no URL.
        ResponseValidationError: a body over ``max_body_size``.
    """
    method, url, body = request.method, request.url, request.body
    started, budget, hop_timeouts = clock(), timeouts.total, timeouts
    for followed in range(config.max_redirects + 1):
        if followed and budget is not None:
            left = budget - (clock() - started)
            if left <= 0:
                raise APITimeoutError(
                    f"{method} {url}: timed out following redirects", method=method, url=url
                )
            hop_timeouts = attrs.evolve(timeouts, total=left)
        response = await transport.send(method, url, headers, body, hop_timeouts)
        if len(response.body) > config.max_body_size:  # whatever the transport
            if response.status < 300:
                raise body_too_large(method, url, config.max_body_size)
            response = attrs.evolve(response, body=response.body[: config.max_body_size])
        if response.status not in REDIRECT_STATUSES:
            return response  # the common case, without a call into the redirect rules
        hop = next_hop(
            method, url, headers, body, status=response.status, response_headers=response.headers
        )
        if hop is None:
            return response  # a 3xx that cannot be followed: the dispatcher raises it
        if hop.cross_origin:
            redirect_log.warning(
                "redirect to another origin %s: credentials dropped", redact_url(hop.url)
            )
        method, url, headers, body = hop.method, hop.url, hop.headers, hop.body
    raise APIConnectionError(f"more than {config.max_redirects} redirects", method=method, url=url)
