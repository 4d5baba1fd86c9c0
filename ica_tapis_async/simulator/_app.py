"""The aiohttp application: route table, and the request pipeline every API call goes through.

Pipeline order (one middleware, so the order is explicit): count the request -> fault that
replaces processing (dropped connection, 500, 503) -> latency and slow answers -> authentication
-> per-credential rate limit -> ICA content negotiation -> handler -> unknown fields (when on)
-> maybe drop the connection after a processed POST. Handler errors become Problems (ICA) or
Tapis envelopes.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

import attrs
import orjson
from aiohttp import web

from ._auth import Identity, authenticate_ica, authenticate_tapis
from ._batch_routes import BatchRoutes
from ._http import IDENTITY, MEDIA
from ._negotiation import JSON, V3, V4, MediaSpec, negotiate
from ._problems import ProblemError, TapisError, problem_response, tapis_error_response
from ._sim_state import SimState
from ._stats import bump
from ._tapis_routes import TapisRoutes
from ._token_routes import TokenRoutes
from ._transfer_routes import TransferRoutes
from ._unknown_fields import add_unknown_fields

log = logging.getLogger("ica_tapis_async.simulator")

__all__ = ("ICA_PREFIX", "STATE", "Operation", "build_app")

ICA_PREFIX = "/ica/rest"
STATE: web.AppKey[SimState] = web.AppKey("ica_simulator_state", SimState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class Operation:
    """Route metadata the pipeline needs: which API, how to authenticate, the media types."""

    id: str
    api: str  # "ica", "ica-token" (authenticates itself), "tapis"
    media: MediaSpec | None = None  # None: no negotiation (Tapis, abort with its empty answer)


def _routes(state: SimState) -> list[tuple[str, str, Operation, Handler]]:
    batches, transfers, tokens, tapis = (
        BatchRoutes(state),
        TransferRoutes(state),
        TokenRoutes(state),
        TapisRoutes(state),
    )
    v3 = MediaSpec((V3,))
    v43 = MediaSpec((V4, V3))
    p = ICA_PREFIX + "/api/projects/{projectId}"
    table: list[tuple[str, str, Operation, Handler]] = [
        (
            "POST",
            p + "/dataLinkingBatch",
            Operation("createProjectDataLinkingBatch", "ica", MediaSpec((V4, V3), (V4, V3, JSON))),
            batches.create_linking,
        ),
        (
            "GET",
            p + "/dataLinkingBatch/{batchId}",
            Operation("getProjectDataLinkingBatch", "ica", v3),
            batches.get_batch("linking"),
        ),
        (
            "GET",
            p + "/dataLinkingBatch/{batchId}/items",
            Operation("getProjectDataLinkingBatchItems", "ica", v43),
            batches.list_items("linking"),
        ),
        (
            "GET",
            p + "/dataLinkingBatch/{batchId}/items/{itemId}",
            Operation("getProjectDataLinkingBatchItem", "ica", v43),
            batches.get_item("linking"),
        ),
        (
            "POST",
            p + "/dataUpdateBatch",
            Operation("createProjectDataUpdateBatch", "ica", MediaSpec((V3,), (V3, JSON))),
            batches.create_update,
        ),
        (
            "GET",
            p + "/dataUpdateBatch/{batchId}",
            Operation("getProjectDataUpdateBatch", "ica", v3),
            batches.get_batch("update"),
        ),
        (
            "GET",
            p + "/dataUpdateBatch/{batchId}/items",
            Operation("getProjectDataUpdateBatchItems", "ica", v3),
            batches.list_items("update"),
        ),
        (
            "GET",
            p + "/dataUpdateBatch/{batchId}/items/{itemId}",
            Operation("getProjectDataUpdateBatchItem", "ica", v3),
            batches.get_item("update"),
        ),
        (
            "POST",
            p + "/analysisCreationBatch",
            Operation("createAnalysisCreationBatch", "ica", MediaSpec((V3,), (V3,))),
            batches.create_analysis,
        ),
        (
            "GET",
            p + "/analysisCreationBatch/{batchId}",
            Operation("getAnalysisCreationBatch", "ica", v3),
            batches.get_batch("analysis"),
        ),
        (
            "GET",
            p + "/analysisCreationBatch/{batchId}/items",
            Operation("getAnalysisCreationBatchItems", "ica", v43),
            batches.list_items("analysis"),
        ),
        (
            "GET",
            p + "/analysisCreationBatch/{batchId}/items/{itemId}",
            Operation("getAnalysisCreationBatchItem", "ica", v43),
            batches.get_item("analysis"),
        ),
        ("GET", p + "/dataTransfers", Operation("getDataTransfers", "ica", v3), transfers.list),
        (
            "GET",
            p + "/dataTransfers/{dataTransferId}",
            Operation("getDataTransfer", "ica", v3),
            transfers.get,
        ),
        # the colon is literal; the id pattern excludes it so ":abort" never lands in the id
        (
            "POST",
            p + "/dataTransfers/{dataTransferId:[^/:]+}:abort",
            Operation("abortDataTransfer", "ica"),
            transfers.abort,
        ),
        (
            "POST",
            ICA_PREFIX + "/api/tokens",
            Operation("createJwtToken", "ica-token", v3),
            tokens.create,
        ),
        (
            "POST",
            ICA_PREFIX + "/api/tokens:refresh",
            Operation("refreshJwtToken", "ica-token", v3),
            tokens.refresh,
        ),
        (
            "GET",
            "/v3/files/transfers",
            Operation("getRecentTransferTasks", "tapis"),
            tapis.list_recent,
        ),
        ("POST", "/v3/files/transfers", Operation("createTransferTask", "tapis"), tapis.create),
        (
            "GET",
            "/v3/files/transfers/{transferTaskId}",
            Operation("getTransferTask", "tapis"),
            tapis.get,
        ),
        (
            "DELETE",
            "/v3/files/transfers/{transferTaskId}",
            Operation("cancelTransferTask", "tapis"),
            tapis.cancel,
        ),
        (
            "GET",
            "/v3/files/transfers/{transferTaskId}/details",
            Operation("getTransferTaskDetails", "tapis"),
            tapis.details,
        ),
    ]
    return table


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer; aiohttp then has nowhere to write the response."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


class _Pipeline:
    def __init__(self, state: SimState, operations: dict[str, Operation]) -> None:
        self.state = state
        self.operations = operations

    def _error(
        self,
        request: web.Request,
        tapis: bool,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Exception:
        if tapis:
            return TapisError(status, message, headers=headers)
        return ProblemError(status, message, headers=headers)

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_simulator"):
            return await handler(request)
        state = self.state
        config = state.config
        tapis = request.path.startswith("/v3/") or request.path == "/v3"
        route_name = request.match_info.route.name
        op = self.operations.get(route_name) if route_name else None
        state.stats.requests += 1
        bump(state.stats.requests_by_operation, op.id if op else "unknown")
        try:
            if op is None:
                exc = request.match_info.http_exception
                status = exc.status if exc is not None else 404
                reason = "FILES_TXFR_SVC_NOT_FOUND" if tapis else "No such resource"
                raise self._error(
                    request, tapis, status, f"{reason}: {request.method} {request.path}"
                )
            fault = state.faults.before(config, op.id)
            if fault == "drop_before":
                bump(state.stats.faults, "drop_before")
                return _drop(request)
            wait, slow = state.faults.delay(config, op.id)
            if slow:
                bump(state.stats.faults, "slow")
            if wait:
                await asyncio.sleep(wait)
            if fault is not None:
                bump(state.stats.faults, fault)
                status = int(fault)
                raise self._error(
                    request,
                    tapis,
                    status,
                    "Simulated fault: the service failed to process the request",
                )
            response = await self._process(request, handler, op, tapis)
        except ProblemError as exc:
            response = problem_response(
                request, exc, now=state.now(), extra_fields=config.extra_fields
            )
        except TapisError as exc:
            response = tapis_error_response(exc, version=config.tapis_version)
        except web.HTTPException as exc:  # e.g. 413 from request.read()
            error = self._error(request, tapis, exc.status, exc.reason)
            if isinstance(error, TapisError):
                response = tapis_error_response(error, version=config.tapis_version)
            else:
                assert isinstance(error, ProblemError)
                response = problem_response(
                    request, error, now=state.now(), extra_fields=config.extra_fields
                )
        if config.unknown_fields and isinstance(response, web.Response):
            add_unknown_fields(request, response, config.seed)
        if (
            op is not None
            and request.method == "POST"
            and response.status < 400
            and state.faults.drop_after(config, op.id)
        ):
            bump(state.stats.faults, "drop_after_post")
            return _drop(request)
        bump(state.stats.responses_by_status, str(response.status))
        if (
            not tapis
            and config.gzip
            and "gzip" in request.headers.get("Accept-Encoding", "")
            and isinstance(response, web.Response)
            and response.body
        ):
            response.enable_compression(web.ContentCoding.gzip)
        return response

    def _retry_after(self, wait: float) -> dict[str, str]:
        value = self.state.config.retry_after
        if value is None:
            return {}
        if value == "auto":
            return {"Retry-After": str(max(1, math.ceil(wait)))}
        return {"Retry-After": str(int(value)) if float(value).is_integer() else str(value)}

    async def _process(
        self, request: web.Request, handler: Handler, op: Operation, tapis: bool
    ) -> web.StreamResponse:
        state = self.state
        config, now = state.config, state.now()
        identity: Identity | None = None
        if tapis:
            identity = authenticate_tapis(request.headers, config, now)
        elif op.api == "ica":
            identity = authenticate_ica(request.headers, config, state.issuer, now)
        if identity is not None:
            request[IDENTITY] = identity
        rate = config.tapis_rate_limit if tapis else config.rate_limit
        if rate is not None:
            # the token endpoints authenticate in their handlers; limit them by their raw header
            if identity is not None:
                key = identity.credential
            else:
                key = request.headers.get("X-API-Key") or request.headers.get("Authorization") or ""
            wait = state.limiter.acquire(
                ("tapis:" if tapis else "ica:") + key, rate, config.rate_limit_burst
            )
            if wait is not None:
                state.stats.throttled += 1
                raise self._error(
                    request,
                    tapis,
                    429,
                    "Too many requests: the rate limit was exceeded",
                    self._retry_after(wait),
                )
        if op.media is not None:
            request[MEDIA] = negotiate(
                op.media,
                accept=request.headers.get("Accept"),
                content_type=request.headers.get("Content-Type"),
                is_get=request.method == "GET",
                strict_accept=config.strict_accept,
                v4_get_needs_content_type=config.v4_get_needs_content_type,
            )
        state.settle()
        return await handler(request)


async def _stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.Response(body=orjson.dumps(state.stats.to_dict()), content_type="application/json")


async def _config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.Response(body=orjson.dumps(state.config.to_dict()), content_type="application/json")


def build_app(state: SimState) -> web.Application:
    """The simulator's aiohttp application for ``state``."""
    table = _routes(state)
    operations = {op.id: op for _m, _p, op, _h in table}
    pipeline = _Pipeline(state, operations)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await pipeline(request, handler)
        except ConnectionResetError:
            # The client went away mid-request (a killed worker, a timeout): there is nobody
            # to answer, and nothing wrong with the simulator; aiohttp would log a traceback.
            log.debug("%s %s: the client closed the connection", request.method, request.path)
            return web.Response(status=499)

    app = web.Application(middlewares=[middleware], client_max_size=state.config.max_body_bytes)
    app[STATE] = state
    for method, path, op, handler in table:
        app.router.add_route(method, path, handler, name=op.id)
    app.router.add_get("/_simulator/stats", _stats)
    app.router.add_get("/_simulator/config", _config)
    return app
