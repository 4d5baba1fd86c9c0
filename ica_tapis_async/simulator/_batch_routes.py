"""Handlers of the 12 batch operations: create, get, items, item of linking/update/analysis."""

from __future__ import annotations

import asyncio
from array import array
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import _batch_state as b
from ._batch_inputs import check_pipeline_ids, input_data_ids, request_tags
from ._batch_items import item_json
from ._batch_state import AnalysisRequest, Batch, BatchKind, item_index
from ._data_state import DataKind
from ._http import identity_of, json_response, media_of, parse_uuid, query_list, read_json
from ._idempotency import StoredResponse, body_fingerprint
from ._negotiation import V3, version_of
from ._paging import encode_token, parse_paging
from ._problems import ProblemError
from ._stats import bump
from ._validate import validate

if TYPE_CHECKING:
    from ._sim_state import SimState

__all__ = ("BatchRoutes",)

_ITEM_STATUSES: dict[BatchKind, tuple[str, ...]] = {
    "linking": (
        "INITIALISED",
        "WAITING_RESOURCES",
        "RUNNING",
        "LINKED",
        "ALREADY_LINKED",
        "FAILED",
        "PARTIALLY_LINKED",
    ),
    "update": (
        "INITIALISED",
        "WAITING_RESOURCES",
        "UPDATING",
        "UPDATED",
        "PARTIALLY_UPDATED",
        "FAILED",
    ),
    "analysis": ("RUNNING", "WAITING_RESOURCES", "SUCCEEDED", "FAILED"),
}
# the v3 media type shows PARTIALLY_LINKED as FAILED (linking items changelog)
_V3_LINKING = {"PARTIALLY_LINKED": "FAILED"}


def _bad(field: str, message: str) -> ProblemError:
    return ProblemError(400, f"{field}: {message}", parameters={field: message})


class BatchRoutes:
    """The batch handlers, bound to one simulator's state."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    # --- shared --------------------------------------------------------------------------------
    def _project(self, request: web.Request) -> str:
        project_id = request.match_info["projectId"]
        if not self.state.store.project_known(project_id):
            raise ProblemError(
                404, f"Project {project_id} not found", parameters={"projectId": project_id}
            )
        return project_id

    def _batch(self, request: web.Request, kind: BatchKind) -> Batch:
        project_id = self._project(request)
        batch_id = str(parse_uuid(request.match_info["batchId"], "batchId"))
        batch = self.state.batches.get(batch_id)
        if batch is None or batch.kind != kind or batch.project_id != project_id:
            raise ProblemError(404, f"Batch {batch_id} not found", parameters={"batchId": batch_id})
        return batch

    def _check(self, schema: str, body: Any) -> None:
        errors = validate(schema, body, strict=self.state.config.strict_requests)
        if errors:
            raise ProblemError(
                400,
                "The request is not valid: " + "; ".join(f"{k} {v}" for k, v in errors.items()),
                parameters=errors,
            )

    def _new_batch(
        self, request: web.Request, kind: BatchKind, project_id: str, outcomes: bytearray
    ) -> Batch:
        config = self.state.config
        stop_at: int | None = None
        if config.stop_rate and self.state.noise().random() < config.stop_rate:
            left = round(len(outcomes) * config.stop_pending_share)
            if config.stop_pending_share and not left:
                left = 1  # a stopped job with a share to leave leaves at least one item
            stop_at = len(outcomes) - left
            self.state.stats.batches_stopped += 1
        return Batch(
            id=self.state.new_uuid(),
            kind=kind,
            project_id=project_id,
            owner=identity_of(request),
            created=self.state.now(),
            step=config.step_s,
            rate=config.item_rate,
            outcomes=outcomes,
            stop_at=stop_at,
        )

    def _created(self, request: web.Request, batch: Batch) -> web.Response:
        state = self.state
        state.batches[batch.id] = batch
        bump(state.stats.batches, batch.kind)
        bump(state.stats.items, batch.kind, batch.size)
        body = {"id": batch.id, "job": state.payloads.job(batch, state.now())}
        return json_response(body, media=media_of(request), status=201)

    # --- linking -------------------------------------------------------------------------------
    async def create_linking(self, request: web.Request) -> web.Response:
        """POST /api/projects/{projectId}/dataLinkingBatch."""
        project_id = self._project(request)
        body = await read_json(request)
        self._check("CreateProjectDataLinkingBatch", body)
        config, store, stats = self.state.config, self.state.store, self.state.stats
        items = body["items"]
        if not items:
            raise _bad("items", "must not be empty")
        if len(items) > config.max_linking_items:
            raise _bad("items", f"size must be at most {config.max_linking_items}")
        expand = config.v3_folder_contents if version_of(request.content_type) == "v3" else 0
        data_ids: list[str] = []
        outcomes = bytearray()
        for item in items:
            data_id = item["dataId"]
            todo = [data_id]
            if expand and store.kind(data_id) is DataKind.FOLDER:
                # V3 turned a folder's content into separate items
                todo += [f"fil.{data_id[4:]}f{k}" for k in range(expand)]
            for one in todo:
                kind = store.kind(one)
                if kind is DataKind.MALFORMED:
                    code = b.LINK_INVALID
                elif kind is DataKind.UNKNOWN:
                    code = b.LINK_NOT_FOUND
                elif kind is DataKind.FOLDER and store.is_partial(one):
                    code = b.PARTIALLY_LINKED
                else:
                    code = b.LINKED
                data_ids.append(one)
                outcomes.append(code)
                if config.track_link_submissions:
                    bump(stats.link_submissions, one)
        batch = self._new_batch(request, "linking", project_id, outcomes)
        batch.data_ids = data_ids
        # LINKED is provisional: ALREADY_LINKED is decided when the item links (settle)
        self.state.unsettled.append(batch)
        return self._created(request, batch)

    # --- update --------------------------------------------------------------------------------
    async def create_update(self, request: web.Request) -> web.Response:
        """POST /api/projects/{projectId}/dataUpdateBatch."""
        project_id = self._project(request)
        body = await read_json(request)
        self._check("CreateProjectDataUpdateBatch", body)
        config, store = self.state.config, self.state.store
        groups: list[dict[str, Any]] = body["dataUpdateGroups"]
        total = sum(len(g["dataIds"]) for g in groups)
        if total == 0:
            raise _bad("dataUpdateGroups", "must contain at least one data id")
        if total > config.max_update_data_ids:
            raise _bad(
                "dataUpdateGroups",
                f"at most {config.max_update_data_ids} data ids per batch, got {total}",
            )
        data_ids: list[str] = []
        group_of = array("I")
        outcomes = bytearray()
        for g, group in enumerate(groups):
            for field in ("WillBeArchivedAt", "WillBeDeletedAt"):
                if group.get("clear" + field) and group.get(field[0].lower() + field[1:]):
                    raise _bad(
                        f"dataUpdateGroups[{g}].clear{field}", "cannot be combined with a new value"
                    )
            dates = bool(group.get("willBeArchivedAt") or group.get("willBeDeletedAt"))
            for j, data_id in enumerate(group["dataIds"]):
                kind = store.kind(data_id)
                if kind is DataKind.MALFORMED:
                    code = b.UPDATE_INVALID
                elif kind is DataKind.UNKNOWN:
                    code = b.UPDATE_NOT_FOUND
                elif kind is DataKind.FOLDER and dates:
                    if config.folder_dates == "reject":
                        raise _bad(
                            f"dataUpdateGroups[{g}].dataIds[{j}]",
                            "archive/delete dates cannot be set on a folder",
                        )
                    code = b.UPDATE_FOLDER_DATES
                elif kind is DataKind.FOLDER and store.is_partial(data_id):
                    code = b.PARTIALLY_UPDATED
                else:
                    code = b.UPDATED
                data_ids.append(data_id)
                group_of.append(g)
                outcomes.append(code)
        batch = self._new_batch(request, "update", project_id, outcomes)
        batch.data_ids, batch.group_of, batch.groups = data_ids, group_of, groups
        self.state.unsettled.append(batch)
        return self._created(request, batch)

    # --- analysis creation ---------------------------------------------------------------------
    async def create_analysis(self, request: web.Request) -> web.Response:
        """POST /api/projects/{projectId}/analysisCreationBatch (honours Idempotency-Key)."""
        state = self.state
        project_id = self._project(request)
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await self._create_analysis(request, project_id, await read_json(request))
        state.idempotency.check_key(key)
        body = await read_json(request)
        # "endpoint" is unstated (API-NOTES B5): method + concrete path
        endpoint, user = f"POST {request.path}", identity_of(request).user_id
        ttl = state.config.idempotency_ttl_s
        try:
            stored = state.idempotency.begin(
                endpoint, key, user, body_fingerprint(body), now=state.now(), ttl=ttl
            )
        except ProblemError as exc:
            if exc.status == 409:
                state.stats.idempotency_in_progress += 1
            else:
                state.stats.idempotency_mismatches += 1
            raise
        if stored is not None:
            state.stats.idempotent_replays += 1
            return web.Response(
                status=stored.status, body=stored.body, content_type=stored.content_type
            )
        response: web.Response | None = None
        try:
            response = await self._create_analysis(request, project_id, body)
        finally:
            kept = None
            if response is not None and isinstance(response.body, bytes):
                kept = StoredResponse(response.status, response.body, response.content_type)
            state.idempotency.finish(endpoint, key, user, kept, now=state.now(), ttl=ttl)
        return response

    async def _create_analysis(
        self, request: web.Request, project_id: str, body: Any
    ) -> web.Response:
        state = self.state
        config, store = state.config, state.store
        if config.idempotent_processing_s:
            await asyncio.sleep(config.idempotent_processing_s / config.time_scale)
        self._check("CreateAnalysisCreationBatch", body)
        items = [
            (language, item)
            for field, language in (
                ("cwlItems", "CWL"),
                ("nextflowItems", "NEXTFLOW"),
                ("nextflowJsonItems", "NEXTFLOW"),
            )
            for item in body.get(field) or ()
        ]
        if config.uuid_pipeline_ids:
            check_pipeline_ids(body)
        if not items:
            raise _bad(
                "cwlItems",
                "at least one of cwlItems, nextflowItems, nextflowJsonItems must not be empty",
            )
        if config.max_analysis_items is not None and len(items) > config.max_analysis_items:
            raise _bad("cwlItems", f"at most {config.max_analysis_items} analyses per batch")
        requests: list[AnalysisRequest] = []
        outcomes = bytearray()
        for language, item in items:
            tags = item.get("tags") or {}
            request_ = AnalysisRequest(
                user_reference=item["userReference"],
                pipeline_id=item["pipelineId"],
                language=language,
                technical_tags=request_tags(tags, "technicalTags"),
                user_tags=request_tags(tags, "userTags"),
                reference_tags=request_tags(tags, "referenceTags"),
            )
            if not store.pipeline_known(request_.pipeline_id):
                code = b.ANALYSIS_NO_PIPELINE
            elif any(store.kind(d) is DataKind.UNKNOWN for d in input_data_ids(item)):
                code = b.ANALYSIS_NO_DATA
            else:
                code = b.ANALYSIS_OK
                bump(state.stats.analyses_by_user_reference, request_.user_reference)
            requests.append(request_)
            outcomes.append(code)
        batch = self._new_batch(request, "analysis", project_id, outcomes)
        batch.requests = requests
        for index in range(batch.limit, batch.size):  # a stopped job never creates these
            if outcomes[index] == b.ANALYSIS_OK:
                bump(state.stats.analyses_by_user_reference, requests[index].user_reference, -1)
        return self._created(request, batch)

    # --- reads ---------------------------------------------------------------------------------
    def get_batch(self, kind: BatchKind) -> Any:
        """GET /api/projects/{projectId}/<kind>Batch/{batchId}."""

        async def handler(request: web.Request) -> web.Response:
            batch = self._batch(request, kind)
            now = self.state.now()
            self.state.settle()  # after reading the time: everything final by `now` is applied
            body = {"id": batch.id, "job": self.state.payloads.job(batch, now)}
            return json_response(body, media=media_of(request))

        return handler

    def list_items(self, kind: BatchKind) -> Any:
        """GET .../<kind>Batch/{batchId}/items (cursor or offset paging, status filter)."""

        async def handler(request: web.Request) -> web.Response:
            state = self.state
            config = state.config
            batch = self._batch(request, kind)
            statuses = query_list(request, "status")
            for status in statuses or ():
                if status not in _ITEM_STATUSES[kind]:
                    raise ProblemError(
                        400, f"Unknown status {status!r}", parameters={"status": status}
                    )
            scope = f"{batch.id}:{','.join(sorted(statuses or ()))}"
            page = parse_paging(
                request.query,
                scope=scope,
                max_page_size=config.max_page_size,
                default_page_size=config.default_page_size,
                offset_result_limit=config.offset_result_limit,
                sortable=False,
            )
            media = media_of(request)
            now = state.now()
            state.settle()  # after reading the time: everything final by `now` is applied
            display = _V3_LINKING if kind == "linking" and media == V3 else {}
            view = batch.view(now, statuses, display)
            body: dict[str, Any]
            if page.mode == "offset":
                first = view.nth(page.offset)
                indexes = [] if first is None else view.page_from(first, page.size)
                body = {"items": [], "nextPageToken": "", "totalItemCount": len(view)}
            else:
                indexes = view.page_from(page.position, page.size)
                after = indexes[-1] + 1 if indexes else page.position
                remaining = len(view) - view.count_below(after)
                body = {
                    "items": [],
                    "nextPageToken": encode_token(scope, after) if remaining and indexes else None,
                }
                counted = state.approximate(remaining)
                if counted is not None:
                    body["remainingRecords"] = counted
            phase = batch.phase(now)
            body["items"] = [
                item_json(
                    batch,
                    i,
                    phase,
                    media,
                    now,
                    self.state.payloads,
                    self.state.config.analysis_run_s,
                )
                for i in indexes
            ]
            return json_response(body, media=media)

        return handler

    def get_item(self, kind: BatchKind) -> Any:
        """GET .../<kind>Batch/{batchId}/items/{itemId}."""

        async def handler(request: web.Request) -> web.Response:
            batch = self._batch(request, kind)
            raw = request.match_info["itemId"]
            index = item_index(batch.id, parse_uuid(raw, "itemId"), batch.size)
            if index is None:
                raise ProblemError(404, f"Batch item {raw} not found", parameters={"itemId": raw})
            now = self.state.now()
            self.state.settle()  # after reading the time: everything final by `now` is applied
            media = media_of(request)
            return json_response(
                item_json(
                    batch,
                    index,
                    batch.phase(now),
                    media,
                    now,
                    self.state.payloads,
                    self.state.config.analysis_run_s,
                ),
                media=media,
            )

        return handler
