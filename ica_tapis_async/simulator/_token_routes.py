"""Handlers of the ICA token operations: create (POST /api/tokens) and refresh."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ._auth import authenticate_ica, authenticate_token_request
from ._http import json_response, media_of
from ._problems import ProblemError

if TYPE_CHECKING:
    from ._sim_state import SimState

__all__ = ("TokenRoutes",)


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
