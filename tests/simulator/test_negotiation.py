"""ICA v3/v4 content negotiation: 415, ICA_API_004 (never 406), q-values, response Content-Type."""

from __future__ import annotations

import aiohttp
import pytest

from ica_tapis_async.simulator import Simulator

from .helpers import KEY, V3, V4, Ica

JSON = "application/json"
PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("accept", "content_type", "status", "answered"),
    [
        (V4, V4, 201, V4),
        (V3, V3, 201, V3),
        (V4, JSON, 201, V4),
        (V3, JSON, 201, V3),
        ("*/*", V4, 201, V4),
        ("*/*", V3, 201, V3),
        (f"{PROBLEM}, {V4}", V4, 201, V4),
        (f"{V3};q=0.5, {V4}", JSON, 201, V4),
        (f"{V3}, {V4};q=0.2", JSON, 201, V3),
        ("application/*", V4, 201, V4),
        (V3, V4, 400, None),  # versions differ: ICA_API_004
        (V4, V3, 400, None),
        ("text/html", V4, 400, None),  # a wrong Accept is ICA_API_004 too, not 406
        (PROBLEM, V4, 400, None),
        (V4, "text/plain", 415, None),
        (V4, "application/xml", 415, None),
    ],
)
async def test_linking_create_negotiation(
    accept: str, content_type: str, status: int, answered: str | None
) -> None:
    """The linking create offers v4/v3/json bodies and v4/v3 answers."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        headers = {"X-API-Key": KEY, "Accept": accept, "Content-Type": content_type}
        async with http.post(
            Ica(sim, http).url("/dataLinkingBatch"),
            data=b'{"items":[{"dataId":"fil.n"}]}',
            headers=headers,
        ) as resp:
            assert resp.status == status
            body = await resp.json(content_type=None)
            if answered:
                assert resp.content_type == answered
            else:
                assert resp.content_type == PROBLEM
                assert body["status"] == status
            if status == 400:
                assert body["title"] == "ICA_API_004"


async def test_get_negotiation() -> None:
    """GET batch is v3 only (400 ICA_API_004 for v4); items answer the version asked; missing
    Accept is 400 too."""
    async with Simulator() as sim, aiohttp.ClientSession(skip_auto_headers=["Accept"]) as http:
        ica = Ica(sim, http)
        _, batch, _ = await ica.call(
            "POST", "/dataLinkingBatch", version=V4, json={"items": [{"dataId": "fil.g"}]}
        )
        status, problem, headers = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}", version=V4
        )
        assert status == 400
        assert headers["Content-Type"] == PROBLEM
        assert problem["title"] == "ICA_API_004"
        assert problem["detail"].startswith("Invalid Accept Header")
        status, _, headers = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4
        )
        assert status == 200
        assert headers["Content-Type"] == V4
        # a versioned Content-Type on a GET must match the Accept
        status, problem, _ = await ica.call(
            "GET",
            f"/dataLinkingBatch/{batch['id']}/items",
            version=V4,
            headers={"Content-Type": V3},
        )
        assert status == 400
        assert problem["title"] == "ICA_API_004"
        async with http.get(
            ica.url(f"/dataLinkingBatch/{batch['id']}"), headers={"X-API-Key": KEY}
        ) as resp:
            assert resp.status == 400
            assert (await resp.json(content_type=None))["title"] == "ICA_API_004"


async def test_lenient_accept_and_v4_get_knobs() -> None:
    """strict_accept=False: missing Accept means */*; v4_get_needs_content_type: GETs need v4 CT."""
    async with (
        Simulator(strict_accept=False, v4_get_needs_content_type=True) as sim,
        aiohttp.ClientSession(skip_auto_headers=["Accept"]) as http,
    ):
        ica = Ica(sim, http)
        async with http.post(
            ica.url("/dataLinkingBatch"),
            json={"items": [{"dataId": "fil.l"}]},
            headers={"X-API-Key": KEY, "Content-Type": V3},
        ) as resp:
            assert resp.status == 201
            assert resp.content_type == V3
            batch = await resp.json(content_type=None)
        status, problem, _ = await ica.call(
            "GET", f"/dataLinkingBatch/{batch['id']}/items", version=V4
        )
        assert status == 400
        assert problem["title"] == "ICA_API_004"
        status, _, headers = await ica.call(
            "GET",
            f"/dataLinkingBatch/{batch['id']}/items",
            version=V4,
            headers={"Content-Type": V4},
        )
        assert status == 200
        assert headers["Content-Type"] == V4


async def test_problem_shape_and_extra_fields() -> None:
    """Problems carry every required field; extra_fields adds the observed `method`."""
    async with Simulator(extra_fields=True) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        status, problem, _ = await ica.call("GET", "/dataUpdateBatch/not-a-uuid")
        assert status == 400
        assert problem["type"] == "about:blank"
        assert problem["instance"].endswith("/dataUpdateBatch/not-a-uuid")
        assert problem["timestamp"].endswith("Z")
        assert problem["method"] == "GET"
        status, problem, _ = await ica.call("GET", "/no/such/route")
        assert status == 404
        assert problem["status"] == 404
        status, problem, _ = await ica.call("DELETE", "/dataUpdateBatch")
        assert status == 405
        assert problem["status"] == 405


async def test_gzip_on_request() -> None:
    """Answers are gzipped only when the request accepts gzip."""
    async with Simulator() as sim, aiohttp.ClientSession(auto_decompress=False) as http:
        ica = Ica(sim, http)
        url = ica.url("/dataTransfers")
        async with http.get(
            url, headers={"X-API-Key": KEY, "Accept": V3, "Accept-Encoding": "gzip"}
        ) as resp:
            assert resp.headers.get("Content-Encoding") == "gzip"
        async with http.get(
            url, headers={"X-API-Key": KEY, "Accept": V3, "Accept-Encoding": "identity"}
        ) as resp:
            assert "Content-Encoding" not in resp.headers
