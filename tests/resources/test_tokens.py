"""ica.tokens and the API-key-to-JWT exchange mode."""

from __future__ import annotations

import time

import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from ..unit.test_auth import make_jwt
from .helpers import API_KEY, ICA, PROJECT, UUID, data_transfer, problem, sent

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


async def test_create_uses_the_api_key_even_with_a_bearer_jwt(http: FakeTransport) -> None:
    """createJwtToken takes ApiKeyAuth/BasicAuth only: the key goes out, never the JWT.

    Regression: in exchange mode tokens.create() sent ``Authorization: Bearer <JWT>``.
    """
    jwt = make_jwt({"exp": time.time() + 3600})
    http.post(f"{ICA}/api/tokens", payload={"token": jwt})
    http.post(f"{ICA}/api/tokens", payload={"token": "jwt-2"})
    async with ita.IcaClient(ICA, transport=http, api_key=API_KEY, exchange_api_key=True) as ica:
        http.get(TRANSFER_URL, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)  # the client now holds a bearer JWT
        assert (await ica.tokens.create()).token == "jwt-2"
    posts = [kw["headers"] for _, kw in sent(http, "POST")]
    assert len(posts) == 2
    assert all(h["X-API-Key"] == API_KEY and "Authorization" not in h for h in posts)


async def test_create_with_basic_credentials(http: FakeTransport) -> None:
    """username/password go out as HTTP Basic, and nothing else authenticates the call."""
    async with ita.IcaClient(
        ICA, transport=http, access_token=make_jwt({"exp": time.time() + 60})
    ) as ica:
        http.post(f"{ICA}/api/tokens", payload={"token": "jwt-b"})
        token = await ica.tokens.create(username="ana", password="s3cret")
    assert token.token == "jwt-b"
    [(_, kwargs)] = sent(http, "POST")
    assert kwargs["headers"]["Authorization"] == "Basic YW5hOnMzY3JldA=="
    assert "X-API-Key" not in kwargs["headers"]


async def test_create_without_key_or_basic_is_refused() -> None:
    """A bearer-only client cannot create a token: a typed error, nothing sent."""
    async with ita.IcaClient(ICA, access_token="jwt") as ica:
        with pytest.raises(ita.RequestValidationError, match="api_key") as info:
            await ica.tokens.create()
    assert info.value.field == "api_key"


@pytest.mark.parametrize("payload", [{}, {"token": None}, {"token": ""}])
async def test_answer_without_a_token_is_a_typed_error(
    http: FakeTransport, ica: ita.IcaClient, payload: dict[str, object]
) -> None:
    """Regression: an answer with no token raised a bare ValueError in exchange mode."""
    http.post(f"{ICA}/api/tokens", payload=payload)
    with pytest.raises(ita.ResponseValidationError) as info:
        await ica.tokens.create()
    assert info.value.path == "token"
    http.post(f"{ICA}/api/tokens", payload=payload)
    async with ita.IcaClient(
        ICA, transport=http, api_key=API_KEY, exchange_api_key=True
    ) as exchanging:
        with pytest.raises(ita.ResponseValidationError) as info:
            await exchanging.data_transfers.get(PROJECT, UUID)
    assert info.value.path == "token"
    assert not isinstance(info.value, ValueError)


async def test_reprs_show_no_secret() -> None:
    """Clients, configs, auths and tokens print without keys, JWTs, passwords or headers."""
    jwt = make_jwt({"exp": time.time() + 60})
    async with ita.IcaClient(
        "https://ana:pa55word@ica.example/ica/rest",
        api_key="key-123456",
        extra_headers={"X-Custom-Secret": "hdr-secret"},
    ) as ica:
        texts = [repr(ica), repr(ica.config), repr(ica._dispatcher.auth), str(ica.config)]
    async with ita.IcaClient(ICA, access_token=jwt) as bearer:
        texts += [repr(bearer), repr(bearer.config)]
    texts.append(repr(ita.Token(token=jwt)))
    for text in texts:
        for secret in ("key-123456", "pa55word", "hdr-secret", jwt):
            assert secret not in text, text


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"api_key": ""}, {"access_token": ""}, {"exchange_api_key": True, "access_token": "j"}],
)
def test_bad_credentials_are_typed_errors(kwargs: dict[str, object]) -> None:
    """No bare ValueError from the constructor: RequestValidationError names the argument."""
    with pytest.raises(ita.RequestValidationError):
        ita.IcaClient(ICA, **kwargs)  # type: ignore[arg-type]


def test_bad_base_url_is_a_typed_error() -> None:
    """A base URL that is not http(s) is a RequestValidationError that hides any password."""
    with pytest.raises(ita.RequestValidationError) as info:
        ita.IcaClient("ftp://ana:pa55word@host", api_key=API_KEY)
    assert info.value.field == "base_url"
    assert "pa55word" not in str(info.value)
