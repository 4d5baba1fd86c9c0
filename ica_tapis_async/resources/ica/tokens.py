"""``ica.tokens``: JSON Web Tokens for the ICA API."""

from __future__ import annotations

from typing import Unpack

from ..._auth import ApiKeyAuth, BasicAuth, IcaAuth
from ..._checks import check_header_value, has_user_info
from ..._config import RequestOptions
from ..._core._request import ICA_V3, query
from ..._errors import RequestValidationError, ResponseValidationError
from ...models import Token
from .._base import Resource, check_filter

__all__ = ("Tokens",)


class Tokens(Resource):
    """Create and refresh JWTs.

    With ``IcaClient(..., exchange_api_key=True)`` the client does this by itself; these methods
    are for callers who manage tokens themselves.
    """

    async def create(
        self,
        *,
        tenant: str | None = None,
        username: str | None = None,
        password: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Token:
        """Create a JWT (``POST /api/tokens``) with the client's API key, or with Basic
        credentials when ``username`` and ``password`` are given.

        ``createJwtToken`` accepts an API key or Basic credentials, never a bearer JWT: even a
        client that uses a JWT for everything else sends its API key here.

        Args:
            tenant: the tenant, when the user belongs to several.
            username: user name for Basic authentication (with ``password``).
            password: password for Basic authentication (with ``username``).

        Raises:
            RequestValidationError: no API key and no Basic credentials to authenticate with.
            ResponseValidationError: the answer holds no token.
        """
        if username is not None or password is not None:
            auth: ApiKeyAuth | BasicAuth = BasicAuth(username or "", password or "")
            if has_user_info(self._dispatcher.config.base_url):
                # aiohttp sends URL user info as an Authorization header of its own.
                raise RequestValidationError(
                    "Basic credentials cannot go with user info in base_url", field="username"
                )
        else:
            client_auth = self._dispatcher.auth
            key = client_auth.api_key if isinstance(client_auth, IcaAuth) else None
            if key is None:
                raise RequestValidationError(
                    "tokens.create needs the client's api_key, or username= and password= "
                    "(POST /api/tokens does not take a bearer JWT)",
                    field="api_key",
                )
            auth = ApiKeyAuth(key)
        # Its own auth on the shared transport, limiter and metrics.
        dispatcher = self._dispatcher.evolve(auth=auth)
        request = self._request(
            "POST",
            "/api/tokens",
            path={},
            params=query(tenant=check_filter("tenant", tenant)),
            accept=ICA_V3,
            idempotent=True,  # an extra token is harmless; a lost one is not
            operation="createJwtToken",
        )
        token = self._structure(await dispatcher.send_json(request, options), Token, request)
        return require_token(token, request.method, request.url)

    async def refresh(self, **options: Unpack[RequestOptions]) -> Token:
        """Extend the client's bearer JWT (``POST /api/tokens:refresh``) and use the new one.

        Only a JWT the caller gave (``access_token=``) can be refreshed: a JWT made from an API key
        cannot, and the client exchanges the key again instead.

        Raises:
            RequestValidationError: the client has no bearer JWT of the caller's.
        """
        auth = self._dispatcher.auth
        if not isinstance(auth, IcaAuth) or auth.current_token() is None or auth.can_renew:
            raise RequestValidationError(
                "refresh needs a client made with access_token= (a JWT made from an API key "
                "cannot be refreshed)",
                field="access_token",
            )
        request = self._request(
            "POST",
            "/api/tokens:refresh",
            path={},
            accept=ICA_V3,
            idempotent=True,
            operation="refreshJwtToken",
        )
        token = await self._call(request, Token, options)
        if token.token:
            auth.set_token(require_token(token, request.method, request.url).token or "")
        return token


def require_token(token: Token, method: str = "", url: str = "") -> Token:
    """``token`` if it holds a JWT that can be sent in a header; else ResponseValidationError
    (the server's answer is at fault, not the caller)."""
    if not isinstance(token.token, str) or not token.token:
        raise ResponseValidationError(
            "the answer holds no token", path="token", model="Token", method=method, url=url
        )
    try:
        check_header_value("token", token.token, secret=True)
    except RequestValidationError as exc:
        raise ResponseValidationError(
            str(exc), path="token", model="Token", method=method, url=url
        ) from None
    return token
