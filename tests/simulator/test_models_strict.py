"""Every answer fits the package's spec models under the strict converter (no unknown keys)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ica_tapis_async.simulator import Simulator

from .helpers import V3, V4, Ica, cwl_item

converter = pytest.importorskip("ica_tapis_async._converter")
models = pytest.importorskip("ica_tapis_async.models")


def _fits(data: Any, model: str) -> None:
    converter.structure_strict(data, getattr(models, model))


async def test_ica_answers_fit_the_models() -> None:
    """Batches, pages, items (v3 and v4), transfers, tokens and Problems structure strictly."""
    async with Simulator(analysis_run_s=0.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        _, link, _ = await ica.call(
            "POST",
            "/dataLinkingBatch",
            version=V4,
            json={
                "items": [
                    {"dataId": "fil.m1"},
                    {"dataId": "fol.partialM"},
                    {"dataId": "fil.missing"},
                ]
            },
        )
        _, update, _ = await ica.call(
            "POST",
            "/dataUpdateBatch",
            json={
                "dataUpdateGroups": [
                    {
                        "dataIds": ["fil.m1"],
                        "userTags": {"addTags": ["x"]},
                        "willBeArchivedAt": "2030-01-01T00:00:00Z",
                    }
                ]
            },
        )
        _, analysis, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json={"cwlItems": [cwl_item("m-1"), cwl_item("m-2", "missing")]},
        )
        _fits(link, "ProjectDataLinkingBatch")
        _fits(update, "ProjectDataUpdateBatch")
        _fits(analysis, "AnalysisCreationBatch")
        sim.advance_clock(5)
        for path, version, model in (
            (f"/dataLinkingBatch/{link['id']}/items", V4, "ProjectDataLinkingBatchItemPagedListV4"),
            (f"/dataLinkingBatch/{link['id']}/items", V3, "ProjectDataLinkingBatchItemPagedList"),
            (f"/dataUpdateBatch/{update['id']}/items", V3, "ProjectDataUpdateBatchItemPagedList"),
            (
                f"/analysisCreationBatch/{analysis['id']}/items",
                V4,
                "AnalysisCreationBatchItemPagedListV4",
            ),
            (
                f"/analysisCreationBatch/{analysis['id']}/items",
                V3,
                "AnalysisCreationBatchItemPagedListV3",
            ),
            ("/dataTransfers", V3, "DataTransferPagedList"),
        ):
            for params in ({}, {"pageOffset": "0"}):
                status, body, _ = await ica.call("GET", path, version=version, params=params)
                assert status == 200
                _fits(body, model)
        for path, model in (
            (f"/dataLinkingBatch/{link['id']}", "ProjectDataLinkingBatch"),
            (f"/dataUpdateBatch/{update['id']}", "ProjectDataUpdateBatch"),
            (f"/analysisCreationBatch/{analysis['id']}", "AnalysisCreationBatch"),
        ):
            _fits((await ica.call("GET", path))[1], model)
        _, transfers, _ = await ica.call("GET", "/dataTransfers")
        _fits(
            (await ica.call("GET", f"/dataTransfers/{transfers['items'][0]['id']}"))[1],
            "DataTransfer",
        )
        _fits((await ica.call("POST", "/api/tokens"))[1], "Token")
        _fits((await ica.call("GET", "/dataLinkingBatch/nope"))[1], "Problem")


async def test_tapis_answers_fit_the_models() -> None:
    """Create, get (with summary), details, list and cancel envelopes structure strictly."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        headers = {"X-Tapis-Token": "t"}
        url = f"{sim.tapis_url}/v3/files/transfers"
        body = {
            "tag": "m",
            "elements": [
                {"sourceURI": "tapis://s/a?files=2", "destinationURI": "tapis://d/a"},
                {
                    "sourceURI": "tapis://s/missing",
                    "destinationURI": "tapis://d/b",
                    "optional": True,
                },
            ],
        }
        async with http.post(url, json=body, headers=headers) as resp:
            created = await resp.json()
        _fits(created, "TransferTaskResponse")
        sim.advance_clock(5)
        task = created["result"]["uuid"]
        for suffix, model in (
            ("?includeSummary=true", "TransferTaskResponse"),
            ("/details", "TransferTaskResponse"),
            ("", "TransferTaskResponse"),
        ):
            async with http.get(f"{url}/{task}{suffix}", headers=headers) as resp:
                _fits(await resp.json(), model)
        async with http.get(url, headers=headers) as resp:
            _fits(await resp.json(), "TransferTaskListResponse")
        async with http.delete(f"{url}/{task}", headers=headers) as resp:
            _fits(await resp.json(), "StringResponse")
