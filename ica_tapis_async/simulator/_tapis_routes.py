"""Handlers of the five Tapis Files transfer operations, with Tapis' envelope and error shapes."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ._auth import tapis_tenant
from ._http import identity_of, read_json
from ._problems import TapisError, tapis_envelope
from ._tapis_state import ERR_NOT_FOUND, ERR_TOO_MANY, Element, Task, file_count
from ._validate import validate

if TYPE_CHECKING:
    from ._sim_state import SimState

__all__ = ("TapisRoutes",)

MAX_LIMIT = 1000
MAX_TAG = 265  # transfer_tasks.tag is VARCHAR(265); longer fails in the database (500)


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise TapisError(400, f"TAPIS_INVALID_PARAMETER {name} must be an integer: {raw}") from None


class TapisRoutes:
    """Tapis transfer handlers."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def _ok(self, message: str, result: Any) -> web.Response:
        body = tapis_envelope(
            "success", message, result, version=self.state.config.tapis_version, metadata={}
        )
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    def _task(self, request: web.Request) -> Task:
        raw = request.match_info["transferTaskId"]
        try:
            task_uuid = str(uuid.UUID(raw))
        except ValueError:
            raise TapisError(
                400, f"TAPIS_INVALID_UUID The transfer task id is not a valid UUID: {raw}"
            ) from None
        task = self.state.tapis_tasks.get(task_uuid)
        if task is None:
            raise TapisError(404, f"FILES_TXFR_SVC_NOT_FOUND Task not found. uuid: {task_uuid}")
        identity = identity_of(request)
        if task.username != identity.username or task.tenant != tapis_tenant(identity):
            raise TapisError(
                403,
                f"FILES_TXFR_SVC_UNAUTH User {identity.username} "
                f"is not authorized for task {task_uuid}",
            )
        if request.query.get("impersonationId"):
            # only service tokens of the jobs service may impersonate; user tokens never can
            raise TapisError(
                403,
                f"FILES_TXFR_SVC_IMPERSONATE User {identity.username} may not use impersonationId",
            )
        return task

    def _include_summary(self, request: web.Request) -> bool:
        raw = request.query.get("includeSummary", "false").lower()
        if raw not in ("true", "false", ""):
            raise TapisError(
                400, f"TAPIS_INVALID_PARAMETER includeSummary must be true or false: {raw}"
            )
        return raw == "true"

    async def create(self, request: web.Request) -> web.Response:
        """POST /v3/files/transfers -> 200 with the new task (parentTasks null)."""
        state = self.state
        config, now = state.config, state.now()
        body = await read_json(request, tapis=True)
        errors = validate("ReqTransfer", body, strict=config.strict_requests)
        if errors:
            raise TapisError(
                400, "TAPIS_VALIDATION_ERROR " + "; ".join(f"{k}: {v}" for k, v in errors.items())
            )
        tag = body.get("tag")
        if tag is not None and len(tag) > MAX_TAG:
            raise TapisError(
                500, "FILES_TXFR_ERR Database error while saving the transfer task (tag too long)"
            )
        bad = [
            e["destinationURI"]
            for e in body["elements"]
            if e["destinationURI"].lower().startswith(("http://", "https://"))
        ]
        if bad:
            # semantic errors are gathered and wrapped as a 500 by the real server
            raise TapisError(
                500,
                "FILES_TXFR_ERR_HTTP_DEST Transfers to an http(s) destination "
                f"are not supported: {', '.join(bad)}",
            )
        identity = identity_of(request)
        elements: list[Element] = []
        for raw in body["elements"]:
            source = raw["sourceURI"]
            files = file_count(source, config.seed)
            error = None
            if config.unknown_marker and config.unknown_marker in source:
                error = ERR_NOT_FOUND.format(source)
            elif files > config.tapis_max_files:
                error = ERR_TOO_MANY.format(files, config.tapis_max_files)
            elements.append(
                Element(
                    db_id=self._next_id(),
                    uuid=state.new_uuid(),
                    source=source,
                    destination=raw["destinationURI"],
                    optional=bool(raw.get("optional")),
                    transfer_type=raw.get("transferType"),
                    files=files,
                    error=error,
                )
            )
        for element in elements:
            element.plan_children(
                config.seed,
                config.tapis_retry_rate,
                config.tapis_child_fail_rate,
                config.tapis_max_tries,
            )
            state.stats.tapis_child_failures += len(element.failed)
            if element.tries is not None:
                retried = sum(1 for n in element.tries if n > 1) - len(element.failed)
                state.stats.tapis_child_retries += retried
        task = Task(
            db_id=self._next_id(),
            uuid=state.new_uuid(),
            username=identity.username,
            tenant=tapis_tenant(identity),
            tag=tag,
            created=now,
            step=config.tapis_step_s,
            file_s=config.tapis_file_s,
            seed=config.seed,
            elements=elements,
        )
        state.tapis_tasks[task.uuid] = task
        state.stats.tapis_tasks += 1
        result = task.to_json(now, summary=False, parents=False, extra=config.extra_fields)
        return self._ok(f"FAPI_TXFR_CREATED Transfer task created. uuid: {task.uuid}", result)

    def _next_id(self) -> int:
        value = self.state.tapis_next_id
        self.state.tapis_next_id += 1
        return value

    async def list_recent(self, request: web.Request) -> web.Response:
        """GET /v3/files/transfers: the caller's tasks, newest first."""
        limit = _int_query(request, "limit", MAX_LIMIT)
        offset = _int_query(request, "offset", 0)
        if limit > MAX_LIMIT or limit < 0:
            raise TapisError(
                400, f"TAPIS_INVALID_PARAMETER limit must be between 0 and {MAX_LIMIT}: {limit}"
            )
        if offset < 0:
            raise TapisError(400, f"TAPIS_INVALID_PARAMETER offset must be >= 0: {offset}")
        identity, state = identity_of(request), self.state
        tenant, now = tapis_tenant(identity), state.now()
        mine = [
            t
            for t in state.tapis_tasks.values()
            if t.username == identity.username and t.tenant == tenant
        ]
        mine.sort(key=lambda t: (t.created, t.db_id), reverse=True)
        chosen = mine[offset : offset + limit]
        extra = state.config.extra_fields
        result = [t.to_json(now, summary=False, parents=False, extra=extra) for t in chosen]
        return self._ok(f"TAPIS_FOUND Files found: {len(result)} transfer tasks", result)

    async def get(self, request: web.Request) -> web.Response:
        """GET /v3/files/transfers/{uuid}[?includeSummary=true]."""
        task = self._task(request)
        summary = self._include_summary(request)
        result = task.to_json(
            self.state.now(), summary=summary, parents=False, extra=self.state.config.extra_fields
        )
        return self._ok(f"TAPIS_FOUND TransferTask found: {task.uuid}", result)

    async def details(self, request: web.Request) -> web.Response:
        """GET /v3/files/transfers/{uuid}/details: summary plus parents with their children."""
        task = self._task(request)
        result = task.to_json(
            self.state.now(), summary=True, parents=True, extra=self.state.config.extra_fields
        )
        return self._ok(f"TAPIS_FOUND TransferTask found: {task.uuid}", result)

    async def cancel(self, request: web.Request) -> web.Response:
        """DELETE /v3/files/transfers/{uuid}: cancels task, parents and children, even finished."""
        task = self._task(request)
        if task.cancelled_at is None:
            task.cancelled_at = self.state.now()
        self.state.stats.tapis_cancels += 1
        return self._ok(f"FAPI_TXFR_CANCELLED Transfer task cancelled. uuid: {task.uuid}", None)
