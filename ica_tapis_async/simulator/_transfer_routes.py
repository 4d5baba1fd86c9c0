"""Handlers of the ICA data-transfer operations: list, get, abort."""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._http import json_response, media_of
from ._paging import encode_token, parse_paging
from ._problems import ProblemError
from ._transfer_state import DIRECTIONS, FINISHED, SORT_FIELDS, STATUSES, Transfer

if TYPE_CHECKING:
    from ._sim_state import SimState

__all__ = ("TransferRoutes", "parse_sort")


def parse_sort(expression: str) -> list[tuple[str, bool]]:
    """``"reference, status desc"`` -> ``[("reference", False), ("status", True)]``.

    Raises:
        ProblemError: 400 naming ``sort`` for an unknown field or direction.
    """
    terms: list[tuple[str, bool]] = []
    for term in expression.split(","):
        words = term.split()
        if not words:
            continue
        field, direction = words[0], (words[1].lower() if len(words) > 1 else "asc")
        if field not in SORT_FIELDS or direction not in ("asc", "desc") or len(words) > 2:
            raise ProblemError(
                400,
                f"Cannot sort on {term.strip()!r}; fields: {', '.join(SORT_FIELDS)}",
                parameters={"sort": term.strip()},
            )
        terms.append((field, direction == "desc"))
    return terms


class TransferRoutes:
    """Data-transfer handlers."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def _transfers(self, request: web.Request) -> list[Transfer]:
        project_id = request.match_info["projectId"]
        if not self.state.store.project_known(project_id):
            raise ProblemError(
                404, f"Project {project_id} not found", parameters={"projectId": project_id}
            )
        config = self.state.config
        return self.state.transfers.project(
            project_id, config.transfers_per_project, config.transfer_duration_s
        )

    def _find(self, request: web.Request) -> Transfer:
        wanted = request.match_info["dataTransferId"]
        for transfer in self._transfers(request):
            if transfer.id == wanted:
                return transfer
        raise ProblemError(
            404, f"Data transfer {wanted} not found", parameters={"dataTransferId": wanted}
        )

    async def list(self, request: web.Request) -> web.Response:
        """GET /api/projects/{projectId}/dataTransfers."""
        state, query = self.state, request.query
        config, now = state.config, state.now()
        transfers = self._transfers(request)
        connector, direction, status = (
            query.get("connector"),
            query.get("direction"),
            query.get("status"),
        )
        if direction and direction not in DIRECTIONS:
            raise ProblemError(
                400, f"Unknown direction {direction!r}", parameters={"direction": direction}
            )
        if status and status not in STATUSES:
            raise ProblemError(400, f"Unknown status {status!r}", parameters={"status": status})
        scope = f"transfers:{request.match_info['projectId']}:{connector}:{direction}:{status}"
        page = parse_paging(
            query,
            scope=scope,
            max_page_size=config.max_page_size,
            default_page_size=config.default_page_size,
            offset_result_limit=config.offset_result_limit,
            sortable=True,
        )
        book = state.transfers
        chosen = [
            t
            for t in transfers
            if (not direction or t.direction == direction)
            and (not status or t.status(now) == status)
            and (
                not connector
                or (
                    t.connector is not None
                    and book.connector(t.project_id, t.connector)["id"] == connector
                )
            )
        ]
        body: dict[str, Any]
        if page.mode == "offset":
            for field, desc in reversed(parse_sort(page.sort or "")):
                # stable sorts from the last term to the first give "a, b desc" semantics
                chosen.sort(
                    key=functools.partial(book.sort_key, field=field, now=now), reverse=desc
                )
            selected = chosen[page.offset : page.offset + page.size]
            body = {"items": [], "nextPageToken": "", "totalItemCount": len(chosen)}
        else:
            rest = [t for t in chosen if t.index >= page.position]
            selected = rest[: page.size]
            remaining = len(rest) - len(selected)
            after = selected[-1].index + 1 if selected else page.position
            body = {
                "items": [],
                "nextPageToken": encode_token(scope, after) if remaining else None,
            }
            counted = self.state.approximate(remaining)
            if counted is not None:
                body["remainingRecords"] = counted
        body["items"] = [book.to_json(t, now) for t in selected]
        return json_response(body, media=media_of(request))

    async def get(self, request: web.Request) -> web.Response:
        """GET /api/projects/{projectId}/dataTransfers/{dataTransferId} (with an ETag)."""
        transfer = self._find(request)
        response = json_response(
            self.state.transfers.to_json(transfer, self.state.now()), media=media_of(request)
        )
        assert isinstance(response.body, bytes)
        response.headers["ETag"] = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
        return response

    async def abort(self, request: web.Request) -> web.Response:
        """POST /api/projects/{projectId}/dataTransfers/{dataTransferId}:abort -> 204."""
        transfer, now = self._find(request), self.state.now()
        status = transfer.status(now)
        if status in FINISHED:
            raise ProblemError(
                409,
                f"Data transfer {transfer.id} is already {status} and cannot be aborted",
                parameters={"dataTransferId": transfer.id},
            )
        if status != "ABORTREQUESTED":
            transfer.abort_at = now
            # the connector takes a step to acknowledge the abort
            transfer.abort_done = now + max(self.state.config.step_s, 0.001)
            self.state.stats.transfers_aborted += 1
        return web.Response(status=204)
