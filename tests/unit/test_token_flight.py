"""One token exchange per burst, also when the exchange fails or its task is cancelled."""

from __future__ import annotations

import time

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async._auth import IcaAuth, Secret

from .fakes import FakeTransport
from .test_auth import make_jwt

BASE = "https://h/ica/rest"


async def test_a_failing_exchange_fails_its_waiters_once_not_one_exchange_each() -> None:
    """20 callers wait for an exchange that fails: one exchange, and all 20 see its error
    at once (before: each waiter exchanged again in turn, 20 serial failures)."""
    fetched: list[int] = []

    async def fetch(key: Secret) -> str:
        fetched.append(1)
        await anyio.sleep(0.01)
        raise ita.APIConnectionError("token endpoint down", method="POST", url=f"{BASE}/x")

    auth = IcaAuth(api_key="k", exchange=True)
    auth.bind(fetch)
    errors: list[Exception] = []

    async def call() -> None:
        try:
            await auth.headers()
        except ita.APIConnectionError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(call)
    assert len(fetched) == 1
    assert len(errors) == 20
    # The next call is a new burst: it tries again.
    with pytest.raises(ita.APIConnectionError):
        await auth.headers()
    assert len(fetched) == 2


async def test_a_cancelled_exchange_hands_over_to_one_waiter() -> None:
    """The task exchanging is cancelled: its waiters are not, and one of them exchanges
    (two exchanges in all), all using the token it issued."""
    fetched: list[int] = []
    started = anyio.Event()

    async def fetch(key: Secret) -> str:
        fetched.append(1)
        started.set()
        await anyio.sleep(0.05)
        return make_jwt({"exp": time.time() + 3600, "n": len(fetched)})

    auth = IcaAuth(api_key="k", exchange=True)
    auth.bind(fetch)
    seen: list[str] = []

    async def call() -> None:
        seen.append((await auth.headers())["Authorization"])

    scope = anyio.CancelScope()

    async def exchanging() -> None:
        with scope:
            await auth.headers()

    async with anyio.create_task_group() as tg:
        tg.start_soon(exchanging)
        await started.wait()
        for _ in range(10):
            tg.start_soon(call)
        await anyio.sleep(0.01)  # the waiters queue behind the exchange
        scope.cancel()
    assert len(fetched) == 2
    assert len(seen) == 10
    assert len(set(seen)) == 1


async def test_a_client_burst_against_a_failing_token_endpoint_posts_one_exchange() -> None:
    """Through the client: POST /api/tokens answers 503; 20 concurrent calls make one
    exchange (its 3 attempts), not 20 exchanges of 3 attempts each, made one after another."""
    http = FakeTransport()
    http.post(f"{BASE}/api/tokens", status=503, payload={}, repeat=True)
    async with ita.IcaClient(
        BASE,
        api_key="k",
        exchange_api_key=True,
        transport=http,
        retry=ita.RetryPolicy.no_wait(max_attempts=3),
    ) as ica:

        async def call(i: int) -> None:
            with pytest.raises(ita.ServerError):
                await ica.data_transfers.get("p", f"t-{i}")

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(call, i)
    assert sum(1 for r in http.sent if r.url.endswith("/api/tokens")) == 3


async def test_a_burst_shares_one_exchange_even_when_the_server_repeats_the_token() -> None:
    """A token endpoint that answers with the same JWT again (still valid on its side, due by
    our clock): waiters compared the new token with the one they held by value, took the
    renewal for a cancelled one, and each exchanged once more, one after another."""
    now = [1000.0]
    token = make_jwt({"exp": 900})  # already past by our clock (a clock ahead of the server's)
    fetched: list[float] = []

    async def fetch(key: Secret) -> str:
        fetched.append(now[0])
        await anyio.sleep(0.01)
        return token

    auth = IcaAuth(api_key="k", exchange=True, clock=lambda: now[0])
    auth.bind(fetch)
    await auth.headers()  # the first exchange, and the token's first use
    assert len(fetched) == 1

    async def call() -> None:
        await auth.headers()

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(call)
    assert len(fetched) == 2


async def test_a_client_clock_far_ahead_renews_by_the_tokens_lifetime_not_every_call() -> None:
    """Our clock two hours ahead of the server's, one-hour tokens: every token looked expired,
    so every call after its first use exchanged the key again. With ``iat`` in the token its
    lifetime is known, and it is renewed a minute before that lifetime ends by our clock."""
    server_skew = -7200.0  # the server's clock reads two hours less than ours
    now = [100_000.0]
    fetched: list[float] = []

    async def fetch(key: Secret) -> str:
        fetched.append(now[0])
        issued = now[0] + server_skew
        return make_jwt({"iat": issued, "exp": issued + 3600})

    auth = IcaAuth(api_key="k", exchange=True, clock=lambda: now[0])
    auth.bind(fetch)
    first = await auth.headers()
    for _ in range(50):
        now[0] += 60.0  # a call a minute, for 50 minutes
        assert await auth.headers() == first
    assert len(fetched) == 1
    now[0] += 9 * 60.0  # 59 minutes after issue: inside the 60 s margin
    assert await auth.headers() != first
    assert len(fetched) == 2
