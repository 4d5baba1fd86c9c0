"""``ica.tokens``: JSON Web Tokens for the ICA API."""

from __future__ import annotations

from typing import Unpack

from ..._auth import IcaAuth
from ..._config import RequestOptions
from ..._core._request import ICA_V3, query
from ..._errors import RequestValidationError
from ...models import Token
from .._base import Resource

__all__ = ("Tokens",)


class Tokens(Resource):
    """Create and refresh JWTs.

    With ``IcaClient(..., exchange_api_key=True)`` the client does this by itself; these methods
    are for callers who manage tokens themselves.
    """

    async def create(
        self, *, tenant: str | None = None, **options: Unpack[RequestOptions]
    ) -> Token:
        """Create a JWT with the client's credentials (``POST /api/tokens``).

        Args:
            tenant: the tenant, when the user belongs to several.
        """
        request = self._request(
            "POST",
            "/api/tokens",
            path={},
            params=query(tenant=tenant),
            accept=ICA_V3,
            idempotent=True,  # an extra token is harmless; a lost one is not
            operation="createJwtToken",
        )
        return await self._call(request, Token, options)

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
            auth.set_token(token.token)
        return token
