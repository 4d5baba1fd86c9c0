"""ica.tokens and the API-key-to-JWT exchange mode."""

from __future__ import annotations

import time

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from ..unit.test_auth import make_jwt
from .conftest import API_KEY, ICA, PROJECT, UUID, data_transfer, problem, sent

TRANSFER_URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"


async def test_create_token(http: FakeTransport, ica: ita.IcaClient) -> None:
    """tokens.create POSTs /api/tokens with the API key and returns the Token."""
    http.post(f"{ICA}/api/tokens?tenant=acme", payload={"token": "jwt-1"})
    token = await ica.tokens.create(tenant="acme")
    assert token.token == "jwt-1"
    [(_, kwargs)] = sent(http, "POST")
    assert kwargs["headers"]["X-API-Key"] == API_KEY


async def test_refresh_replaces_the_bearer(http: FakeTransport) -> None:
    """tokens.refresh POSTs tokens:refresh with the current JWT and uses the new one after."""
    old, new = make_jwt({"exp": time.time() + 60}), make_jwt({"exp": time.time() + 3600})
    async with ita.IcaClient(ICA, transport=http, access_token=old) as ica:
        http.post(f"{ICA}/api/tokens:refresh", payload={"token": new})
        http.get(TRANSFER_URL, payload=data_transfer())
        assert (await ica.tokens.refresh()).token == new
        await ica.data_transfers.get(PROJECT, UUID)
    [(url, post)] = sent(http, "POST")
    assert url.endswith("/api/tokens:refresh")
    assert post["headers"]["Authorization"] == f"Bearer {old}"
    [(_, get)] = sent(http, "GET")
    assert get["headers"]["Authorization"] == f"Bearer {new}"


async def test_refresh_refused_for_api_key_clients(ica: ita.IcaClient) -> None:
    """A JWT made from an API key cannot be refreshed: a clear error, nothing sent."""
    with pytest.raises(ita.RequestValidationError, match="cannot be refreshed"):
        await ica.tokens.refresh()


async def test_exchange_mode_uses_jwt_and_renews_after_401(http: FakeTransport) -> None:
    """exchange_api_key: the key buys a JWT; a 401 buys a new one and the call is retried once."""
    first = make_jwt({"exp": time.time() + 3600, "n": 1})
    second = make_jwt({"exp": time.time() + 3600, "n": 2})
    http.post(f"{ICA}/api/tokens", payload={"token": first})
    http.post(f"{ICA}/api/tokens", payload={"token": second})
    http.get(TRANSFER_URL, status=401, payload=problem(401))
    http.get(TRANSFER_URL, payload=data_transfer())
    async with ita.IcaClient(ICA, transport=http, api_key=API_KEY, exchange_api_key=True) as ica:
        got = await ica.data_transfers.get(PROJECT, UUID)
    assert got.id == UUID
    posts = [kw["headers"] for _, kw in sent(http, "POST")]
    assert all(h["X-API-Key"] == API_KEY and "Authorization" not in h for h in posts)
    gets = [kw["headers"]["Authorization"] for _, kw in sent(http, "GET")]
    assert gets == [f"Bearer {first}", f"Bearer {second}"]


async def test_exchange_mode_second_401_is_raised(http: FakeTransport) -> None:
    """Only one renewal per call: a second 401 is raised as AuthenticationError."""
    http.post(
        f"{ICA}/api/tokens", payload={"token": make_jwt({"exp": time.time() + 3600})}, repeat=True
    )
    http.get(TRANSFER_URL, status=401, payload=problem(401), repeat=True)
    async with ita.IcaClient(ICA, transport=http, api_key=API_KEY, exchange_api_key=True) as ica:
        with pytest.raises(ita.AuthenticationError):
            await ica.data_transfers.get(PROJECT, UUID)
