"""Credentials: secrets never print; JWT expiry is read from the token."""

from __future__ import annotations

import base64
import pickle
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import orjson
import pytest

import ica_tapis_async as ita
from ica_tapis_async._auth import ApiKeyAuth, BasicAuth, IcaAuth, Secret, TapisAuth, jwt_expiry

from .fakes import FakeTransport


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


def _exchanger(
    now: list[float], lifetime: float, fetched: list[float]
) -> Callable[[Secret], Awaitable[str]]:
    async def fetch(key: Secret) -> str:
        fetched.append(now[0])
        await anyio.sleep(0.01)  # the burst piles up behind the first exchange
        return make_jwt({"exp": now[0] + lifetime, "n": len(fetched)})

    return fetch


@pytest.mark.parametrize("lifetime", [30.0, 1.0, -120.0])
async def test_a_burst_makes_one_exchange_even_when_the_new_token_looks_due(
    lifetime: float,
) -> None:
    """Short-lived tokens (inside the 60 s margin) or a client clock ahead of the server's
    (exp already past): 100 concurrent callers share one exchange and use its token."""
    now = [1000.0]
    fetched: list[float] = []
    auth = IcaAuth(api_key="k", exchange=True, clock=lambda: now[0])
    auth.bind(_exchanger(now, lifetime, fetched))
    seen: list[dict[str, str]] = []

    async def call() -> None:
        seen.append(await auth.headers())

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(call)
    assert len(fetched) == 1
    assert auth.exchanges == 1
    assert len({h["Authorization"] for h in seen}) == 1


async def test_a_token_is_not_due_before_its_first_use() -> None:
    """A token that is already past its exp by our clock is still used once, then renewed."""
    now = [1000.0]
    fetched: list[float] = []
    auth = IcaAuth(api_key="k", exchange=True, clock=lambda: now[0])
    auth.bind(_exchanger(now, -300.0, fetched))
    first = await auth.headers()
    assert len(fetched) == 1
    second = await auth.headers()  # the first token has been used: now it is due
    assert second != first
    assert len(fetched) == 2


async def test_a_short_lived_token_is_renewed_half_way_not_on_every_call() -> None:
    """A 30 s token is kept for 15 s (half its life), then renewed once."""
    now = [1000.0]
    fetched: list[float] = []
    auth = IcaAuth(api_key="k", exchange=True, clock=lambda: now[0])
    auth.bind(_exchanger(now, 30.0, fetched))
    first = await auth.headers()
    for _ in range(5):
        now[0] += 2.9
        assert await auth.headers() == first
    now[0] += 0.6  # 15.1 s after issue
    assert await auth.headers() != first
    assert len(fetched) == 2


async def test_a_client_burst_with_short_lived_tokens_posts_one_exchange() -> None:
    """Through the client: 100 concurrent calls, one POST /api/tokens."""
    http = FakeTransport()
    base = "https://h/ica/rest"
    token = make_jwt({"exp": time.time() + 20})
    http.post(f"{base}/api/tokens", payload={"token": token}, repeat=True)
    http.get(
        re.compile(rf"{base}/api/projects/p/dataTransfers/.*"), status=404, payload={}, repeat=True
    )
    async with ita.IcaClient(
        base, api_key="k", exchange_api_key=True, transport=http, retry=ita.RetryPolicy.never()
    ) as ica:

        async def call(i: int) -> None:
            with pytest.raises(ita.NotFoundError):
                await ica.data_transfers.get("p", f"t-{i}")

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(call, i)
    assert sum(1 for r in http.sent if r.url.endswith("/api/tokens")) == 1
