"""Handlers of the ICA data-transfer (list, get, abort) and token (create, refresh) operations."""

from __future__ import annotations

import functools
import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._auth import authenticate_ica, authenticate_token_request
from ._http import json_response, media_of
from ._paging import encode_token, parse_paging
from ._problems import ProblemError
from ._transfers_ica import DIRECTIONS, FINISHED, SORT_FIELDS, STATUSES, Transfer

if TYPE_CHECKING:
    from ._state import SimState

__all__ = ("TokenRoutes", "TransferRoutes", "parse_sort")


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
                "remainingRecords": remaining,
            }
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


class TokenRoutes:
    """``POST /api/tokens`` and ``POST /api/tokens:refresh``; they authenticate themselves."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    async def create(self, request: web.Request) -> web.Response:
        """Issue a JWT for an API key or Basic credentials (200, as the spec says)."""
        state = self.state
        identity = authenticate_token_request(request.headers, state.config)
        token = state.issuer.issue(
            identity,
            now=state.now(),
            ttl=state.config.jwt_ttl_s,
            from_api_key=identity.kind == "api_key",
        )
        state.stats.tokens_issued += 1
        return json_response({"token": token}, media=media_of(request))

    async def refresh(self, request: web.Request) -> web.Response:
        """Renew a still-valid JWT; not possible for one made from an API key (API-NOTES B1)."""
        state = self.state
        config, now = state.config, state.now()
        identity = authenticate_ica(request.headers, config, state.issuer, now)
        if identity.kind != "jwt" or state.issuer.verify(identity.credential) is None:
            raise ProblemError(
                401, "A valid JWT issued by POST /api/tokens is required", parameters={}
            )
        if identity.from_api_key:
            raise ProblemError(
                config.api_key_jwt_refresh_status,
                "A JWT generated with an API key cannot be refreshed; "
                "request a new one with POST /api/tokens",
                parameters={"Authorization": "JWT generated with an API key"},
            )
        ttl = config.jwt_ttl_s
        if identity.expires_at is not None:
            ttl = max(ttl, identity.expires_at + 1 - now)  # the new exp is always later
        token = state.issuer.issue(identity, now=now, ttl=ttl, from_api_key=False)
        state.stats.tokens_issued += 1
        return json_response({"token": token}, media=media_of(request))
