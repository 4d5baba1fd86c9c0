"""Payloads and helpers shared by the simulator tests (imported from here, not conftest)."""

from __future__ import annotations

from typing import Any

import orjson

V3 = "application/vnd.illumina.v3+json"


V4 = "application/vnd.illumina.v4+json"


PROJECT = "1b7e2a54-7d1c-4a63-9a8e-3f1f0c2d9e01"


KEY = "test-api-key"


def ica_headers(version: str = V3, *, body: bool = False, **extra: str) -> dict[str, str]:
    """API-key auth plus Accept (and Content-Type for bodies) of ``version``."""
    headers = {"X-API-Key": KEY, "Accept": version}
    if body:
        headers["Content-Type"] = version
    headers.update(extra)
    return headers


def cwl_item(
    user_reference: str, pipeline_id: str = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
) -> dict[str, Any]:
    """A minimal valid CreateCwlAnalysis."""
    return {
        "userReference": user_reference,
        "pipelineId": pipeline_id,
        "tags": {"technicalTags": ["t"], "userTags": ["u"], "referenceTags": []},
        "analysisInput": {
            "objectType": "STRUCTURED",
            "inputs": [{"parameterCode": "reads", "dataIds": ["fil.input1"]}],
        },
    }


class Ica:
    """A tiny raw-aiohttp ICA caller bound to one simulator and project."""

    def __init__(self, sim: Any, http: Any, project: str = PROJECT) -> None:
        self.sim, self.http, self.project = sim, http, project

    def url(self, path: str) -> str:
        """Full URL of ``path`` under the project (``/api/...`` paths are left alone)."""
        base = self.sim.ica_url
        return (
            base + path if path.startswith("/api/") else f"{base}/api/projects/{self.project}{path}"
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        version: str = V3,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> tuple[int, Any, Any]:
        """(status, decoded body or None, response headers)."""
        hdrs = ica_headers(version, body=json is not None)
        hdrs.update(headers or {})
        async with self.http.request(
            method, self.url(path), json=json, headers=hdrs, params=params
        ) as resp:
            raw = await resp.read()
            body = (
                orjson.loads(raw) if raw and "json" in resp.content_type else (raw.decode() or None)
            )
            return resp.status, body, resp.headers
