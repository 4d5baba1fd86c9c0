"""Authentication: API keys, bearer JWTs, Basic on /tokens, token issue/refresh, expiry."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import orjson

from ica_tapis_async.simulator import Simulator

from .helpers import V3, Ica


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_any_credential_by_default_and_401_without() -> None:
    """Any non-empty key or bearer works by default; none is a 401 Problem."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        url = ica.url("/dataTransfers")
        async with http.get(url, headers={"Accept": V3}) as resp:
            assert resp.status == 401
            assert resp.content_type == "application/problem+json"
        async with http.get(url, headers={"Accept": V3, "X-API-Key": "whatever"}) as resp:
            assert resp.status == 200
        async with http.get(
            url, headers={"Accept": V3, "Authorization": "Bearer opaque-token"}
        ) as resp:
            assert resp.status == 200
        async with http.get(url, headers={"Accept": V3, "Authorization": "Bearer "}) as resp:
            assert resp.status == 401


async def test_restricted_credentials() -> None:
    """With api_keys/bearer_tokens set, only those (and JWTs issued here) are accepted."""
    async with (
        Simulator(api_keys={"good"}, bearer_tokens={"tok"}) as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        status, _, _ = await ica.call("GET", "/dataTransfers", headers={"X-API-Key": "bad"})
        assert status == 401
        status, _, _ = await ica.call("GET", "/dataTransfers", headers={"X-API-Key": "good"})
        assert status == 200
        for bearer, expected in (("tok", 200), ("nope", 401)):
            async with http.get(
                ica.url("/dataTransfers"),
                headers={"Accept": V3, "Authorization": f"Bearer {bearer}"},
            ) as resp:
                assert resp.status == expected
        status, body, _ = await ica.call("POST", "/api/tokens", headers={"X-API-Key": "good"})
        async with http.get(
            ica.url("/dataTransfers"),
            headers={"Accept": V3, "Authorization": f"Bearer {body['token']}"},
        ) as resp:
            assert resp.status == 200
        status, _, _ = await ica.call("POST", "/api/tokens", headers={"X-API-Key": "bad"})
        assert status == 401


async def test_token_from_api_key_expires_and_cannot_refresh() -> None:
    """POST /api/tokens answers 200 with a JWT; it expires on the simulated clock; no refresh."""
    async with Simulator(jwt_ttl_s=60) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        status, body, headers = await ica.call("POST", "/api/tokens")
        assert status == 200
        assert headers["Content-Type"] == V3
        claims = _claims(body["token"])
        assert claims["amr"] == ["apikey"]
        assert isinstance(claims["exp"], int)
        assert claims["exp"] - int(sim.now()) in (59, 60)
        bearer = {"Authorization": f"Bearer {body['token']}", "Accept": V3}
        status, problem, _ = await ica.call(
            "POST", "/api/tokens:refresh", headers={**bearer, "X-API-Key": ""}
        )
        assert status == 400
        assert "API key" in problem["detail"]
        async with http.get(ica.url("/dataTransfers"), headers=bearer) as resp:
            assert resp.status == 200
        sim.advance_clock(61)
        async with http.get(ica.url("/dataTransfers"), headers=bearer) as resp:
            assert resp.status == 401
            assert "expired" in (await resp.json(content_type=None))["detail"]
        assert sim.stats.tokens_issued == 1


async def test_basic_token_refreshes_with_later_exp() -> None:
    """A JWT from Basic credentials refreshes into one with a later exp; API keys get 401."""
    basic = base64.b64encode(b"ana@example.org:pw").decode()
    async with (
        Simulator(basic_credentials={"ana@example.org:pw"}) as sim,
        aiohttp.ClientSession() as http,
    ):
        ica = Ica(sim, http)
        status, body, _ = await ica.call(
            "POST",
            "/api/tokens",
            headers={"X-API-Key": "", "Authorization": f"Basic {basic}"},
            params={"tenant": "t1"},
        )
        assert status == 200
        first = _claims(body["token"])
        assert first["amr"] == ["pwd"]
        assert first["email"] == "ana@example.org"
        sim.advance_clock(10)
        status, renewed, _ = await ica.call(
            "POST",
            "/api/tokens:refresh",
            headers={"X-API-Key": "", "Authorization": f"Bearer {body['token']}"},
        )
        assert status == 200
        second = _claims(renewed["token"])
        assert second["exp"] > first["exp"]
        assert second["sub"] == first["sub"]
        wrong = base64.b64encode(b"ana@example.org:bad").decode()
        status, _, _ = await ica.call(
            "POST", "/api/tokens", headers={"X-API-Key": "", "Authorization": f"Basic {wrong}"}
        )
        assert status == 401
        status, _, _ = await ica.call("POST", "/api/tokens:refresh")
        assert status == 401
        sim.advance_clock(7200)
        status, _, _ = await ica.call(
            "POST",
            "/api/tokens:refresh",
            headers={"X-API-Key": "", "Authorization": f"Bearer {renewed['token']}"},
        )
        assert status == 401


async def test_jwt_user_shares_state_with_its_api_key() -> None:
    """A JWT made from an API key is the same user: idempotency keys carry over."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        _, token, _ = await ica.call("POST", "/api/tokens")
        body = {
            "cwlItems": [
                {
                    "userReference": "u",
                    "pipelineId": "p",
                    "analysisInput": {"objectType": "JSON", "inputJson": "{}"},
                }
            ]
        }
        key = {"Idempotency-Key": "shared"}
        _, first, _ = await ica.call("POST", "/analysisCreationBatch", json=body, headers=key)
        _, second, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json=body,
            headers={**key, "X-API-Key": "", "Authorization": f"Bearer {token['token']}"},
        )
        assert first == second
        assert first["job"]["owner"]["id"] == _claims(token["token"])["sub"]
