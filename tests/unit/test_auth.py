"""Credentials: secrets never print; JWT expiry is read from the token."""

from __future__ import annotations

import base64
import pickle
from typing import Any

import orjson
import pytest

import ica_tapis_async as ita
from ica_tapis_async._auth import ApiKeyAuth, BasicAuth, IcaAuth, Secret, TapisAuth, jwt_expiry


def make_jwt(claims: dict[str, object]) -> str:
    """An unsigned JWT with ``claims``."""

    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def test_secret_never_prints() -> None:
    """repr and str hide the value; reveal gives it; pickling keeps it."""
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert secret.reveal() == "hunter2"
    assert pickle.loads(pickle.dumps(secret)).reveal() == "hunter2"


def test_jwt_expiry() -> None:
    """exp is read from the payload; other strings give None."""
    assert jwt_expiry(make_jwt({"exp": 1234, "sub": "u"})) == 1234.0
    assert jwt_expiry(make_jwt({"sub": "u"})) is None
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.!!!.c") is None


async def test_auth_headers_per_mode() -> None:
    """API key, bearer token and Tapis token each produce their header; reprs hide them."""
    key = IcaAuth(api_key="k-secret")
    assert await key.headers() == {"X-API-Key": "k-secret"}
    bearer = IcaAuth(access_token="jwt-secret")
    assert await bearer.headers() == {"Authorization": "Bearer jwt-secret"}
    tapis = TapisAuth("t-secret")
    assert await tapis.headers() == {"X-Tapis-Token": "t-secret"}
    for obj in (key, bearer, tapis):
        assert "secret" not in repr(obj)


async def test_exchange_renews_before_expiry() -> None:
    """An exchanged JWT is fetched once, reused, and fetched again near its exp."""
    now = [1000.0]
    fetched: list[str] = []

    async def fetch(key: Secret) -> str:
        fetched.append(key.reveal())
        return make_jwt({"exp": now[0] + 3600})

    auth = IcaAuth(api_key="k", exchange=True, clock=lambda: now[0])
    auth.bind(fetch)
    first = await auth.headers()
    assert await auth.headers() == first
    assert fetched == ["k"]
    now[0] += 3600 - 30  # inside the renewal margin
    second = await auth.headers()
    assert second != first
    assert len(fetched) == 2


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: ita.RetryPolicy(max_attempts=0), "max_attempts"),
        (lambda: ita.RetryPolicy(total_timeout=-1), "total_timeout"),
        (lambda: ita.RetryPolicy(max_retry_after=-0.5), "max_retry_after"),
        (lambda: ita.RateLimitPolicy(burst=0), "burst"),
        (lambda: Secret(""), None),
        (lambda: BasicAuth("ana:b", "pw"), "username"),
        (lambda: BasicAuth("ana", ""), "password"),
    ],
)
def test_bad_settings_are_typed_errors(build: Any, field: str | None) -> None:
    """Settings and credentials refuse bad values with RequestValidationError, not ValueError."""
    with pytest.raises(ita.RequestValidationError) as info:
        build()
    assert info.value.field == field


async def test_basic_auth_header_and_repr() -> None:
    """BasicAuth sends the RFC 7617 header and never prints the password."""
    auth = BasicAuth("ana", "s3cret")
    assert await auth.headers() == {"Authorization": "Basic YW5hOnMzY3JldA=="}
    assert "s3cret" not in repr(auth)
    assert "YW5h" not in repr(auth)
    assert "key-1" not in repr(ApiKeyAuth(Secret("key-1")))
