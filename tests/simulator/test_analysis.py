"""Analysis creation batches and the Idempotency-Key contract."""

from __future__ import annotations

import asyncio

import aiohttp

from ica_tapis_async.simulator import Simulator

from .helpers import V3, V4, Ica, cwl_item

PIPELINE = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"


def _body(*refs: str, pipeline: str = PIPELINE) -> dict[str, object]:
    return {"cwlItems": [cwl_item(r, pipeline) for r in refs]}


async def test_analysis_batch_creates_one_analysis_per_item() -> None:
    """Every item creates an AnalysisV4 with its userReference; unknown pipelines fail."""
    async with Simulator(analysis_run_s=10.0, step_s=1.0) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        body = {
            "cwlItems": [cwl_item("sample-1"), cwl_item("sample-2", "pipeline-missing")],
            "nextflowItems": [
                {
                    "userReference": "nf-1",
                    "pipelineId": PIPELINE,
                    "analysisInput": {
                        "inputs": [{"parameterCode": "in", "dataIds": ["fil.missingInput"]}]
                    },
                }
            ],
            "nextflowJsonItems": [
                {
                    "userReference": "nfj-1",
                    "pipelineId": PIPELINE,
                    "inputFormValues": {
                        "fields": [
                            {"id": "f", "values": ["1"], "dataValues": [{"dataId": "fil.ok"}]}
                        ]
                    },
                }
            ],
        }
        status, batch, headers = await ica.call("POST", "/analysisCreationBatch", json=body)
        assert status == 201
        assert headers["Content-Type"] == V3
        assert batch["job"]["subjectType"] == "AnalysisCreationBatch"
        _, page, _ = await ica.call(
            "GET", f"/analysisCreationBatch/{batch['id']}/items", version=V4
        )
        assert {i["processing"]["status"] for i in page["items"]} == {"WAITING_RESOURCES"}
        sim.advance_clock(5)
        _, page, headers = await ica.call(
            "GET", f"/analysisCreationBatch/{batch['id']}/items", version=V4
        )
        assert headers["Content-Type"] == V4
        assert [i["processing"]["status"] for i in page["items"]] == [
            "SUCCEEDED",
            "FAILED",
            "FAILED",
            "SUCCEEDED",
        ]
        created = page["items"][0]["createdAnalysis"]
        assert created["userReference"] == "sample-1"
        assert created["status"] == "REQUESTED"
        assert created["owner"]["id"]
        assert created["tenant"]["id"]
        assert created["pipeline"]["language"] == "CWL"
        assert page["items"][3]["createdAnalysis"]["pipeline"]["language"] == "NEXTFLOW"
        assert "createdAnalysis" not in page["items"][1]
        assert page["items"][0]["request"] == {
            "userReference": "sample-1",
            "pipelineId": PIPELINE,
            "tags": {"technicalTags": ["t"], "userTags": ["u"], "referenceTags": []},
        }
        assert sim.stats.analyses_by_user_reference == {"sample-1": 1, "nfj-1": 1}
        sim.advance_clock(15)
        _, v3, headers = await ica.call(
            "GET",
            f"/analysisCreationBatch/{batch['id']}/items/{page['items'][0]['id']}",
            version=V3,
        )
        assert headers["Content-Type"] == V3
        assert v3["createdAnalysis"]["status"] == "INPROGRESS"
        assert "ownerId" in v3["createdAnalysis"]
        assert "owner" not in v3["createdAnalysis"]
        sim.advance_clock(15)
        _, v4, _ = await ica.call(
            "GET",
            f"/analysisCreationBatch/{batch['id']}/items/{page['items'][0]['id']}",
            version=V4,
        )
        assert v4["createdAnalysis"]["status"] == "SUCCEEDED"
        assert v4["createdAnalysis"]["endDate"]
        _, job, _ = await ica.call("GET", f"/analysisCreationBatch/{batch['id']}")
        assert job["job"]["status"] == "PARTIALLY_SUCCEEDED"
        _, filtered, _ = await ica.call(
            "GET",
            f"/analysisCreationBatch/{batch['id']}/items",
            version=V4,
            params={"status": "FAILED"},
        )
        assert len(filtered["items"]) == 2


async def test_known_pipelines_knob() -> None:
    """With known_pipelines only those ids create analyses."""
    async with Simulator(known_pipelines={"pipe-a"}) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        _, batch, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json={"cwlItems": [cwl_item("a", "pipe-a"), cwl_item("b", "pipe-b")]},
        )
        sim.advance_clock(5)
        _, page, _ = await ica.call(
            "GET", f"/analysisCreationBatch/{batch['id']}/items", version=V4
        )
        assert [i["processing"]["status"] for i in page["items"]] == ["SUCCEEDED", "FAILED"]
        _, job, _ = await ica.call("GET", f"/analysisCreationBatch/{batch['id']}")
        assert job["job"]["status"] == "PARTIALLY_SUCCEEDED"


async def test_analysis_validation() -> None:
    """Missing/too long fields are 400s naming them; an empty batch is refused; v4 bodies 415."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        bad = cwl_item("x" * 256)
        del bad["pipelineId"]
        bad["analysisInput"] = {"objectType": "XML"}
        status, problem, _ = await ica.call(
            "POST", "/analysisCreationBatch", json={"cwlItems": [bad]}
        )
        assert status == 400
        assert set(problem["parameters"]) == {
            "cwlItems[0].userReference",
            "cwlItems[0].pipelineId",
            "cwlItems[0].analysisInput.objectType",
        }
        status, problem, _ = await ica.call("POST", "/analysisCreationBatch", json={})
        assert status == 400
        status, _, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json=_body("a"),
            headers={"Content-Type": V4, "Accept": V4},
        )
        assert status == 415
        assert sim.stats.analyses_created == 0


async def test_idempotency_replays_stored_response() -> None:
    """Same key + same body returns the stored 201 without creating anything again."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        key = {"Idempotency-Key": "run-1:chunk-0"}
        s1, first, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("r1", "r2"), headers=key
        )
        s2, second, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("r1", "r2"), headers=key
        )
        assert (s1, s2) == (201, 201)
        assert first == second
        assert sim.stats.batches["analysis"] == 1
        assert sim.stats.analyses_by_user_reference == {"r1": 1, "r2": 1}
        assert sim.stats.idempotent_replays == 1
        # another user with the same key is independent
        s3, third, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json=_body("r1", "r2"),
            headers={**key, "X-API-Key": "someone-else"},
        )
        assert s3 == 201
        assert third["id"] != first["id"]
        # another endpoint (project) with the same key is independent too
        other = Ica(sim, http, "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c")
        s4, fourth, _ = await other.call(
            "POST", "/analysisCreationBatch", json=_body("r1", "r2"), headers=key
        )
        assert s4 == 201
        assert fourth["id"] != first["id"]


async def test_idempotency_conflicts() -> None:
    """A different body is 422; a repeat while the first runs is 409; >255 chars is 400."""
    async with Simulator(idempotent_processing_s=0.3) as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        key = {"Idempotency-Key": "k-1"}
        first = asyncio.create_task(
            ica.call("POST", "/analysisCreationBatch", json=_body("a"), headers=key)
        )
        await asyncio.sleep(0.1)
        status, problem, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("a"), headers=key
        )
        assert status == 409
        assert problem["status"] == 409
        status, problem, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("b"), headers=key
        )
        assert status == 422
        assert (await first)[0] == 201
        status, problem, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("b"), headers=key
        )
        assert status == 422
        status, problem, _ = await ica.call(
            "POST",
            "/analysisCreationBatch",
            json=_body("a"),
            headers={"Idempotency-Key": "x" * 256},
        )
        assert status == 400
        assert "Idempotency-Key" in problem["parameters"]
        assert sim.stats.idempotency_in_progress == 1
        assert sim.stats.idempotency_mismatches == 2
        assert sim.stats.batches["analysis"] == 1


async def test_idempotency_errors_are_not_stored_and_keys_expire() -> None:
    """A failed call may be retried with its key; stored answers expire after 7 simulated days."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        key = {"Idempotency-Key": "k-err"}
        invalid = {"cwlItems": [{"userReference": "z"}]}
        status, _, _ = await ica.call("POST", "/analysisCreationBatch", json=invalid, headers=key)
        assert status == 400
        status, first, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("z"), headers=key
        )
        assert status == 201
        sim.advance_clock(6 * 86400)
        _, again, _ = await ica.call("POST", "/analysisCreationBatch", json=_body("z"), headers=key)
        assert again == first
        sim.advance_clock(2 * 86400)
        status, fresh, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("z"), headers=key
        )
        assert status == 201
        assert fresh["id"] != first["id"]
        # a fault (500) is an error too: not stored, the retry processes it
        sim.configure(p_500=1.0)
        status, _, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("y"), headers={"Idempotency-Key": "k-500"}
        )
        assert status == 500
        sim.configure(p_500=0.0)
        status, _, _ = await ica.call(
            "POST", "/analysisCreationBatch", json=_body("y"), headers={"Idempotency-Key": "k-500"}
        )
        assert status == 201
        assert sim.stats.analyses_by_user_reference == {"z": 2, "y": 1}


async def test_body_key_order_does_not_matter() -> None:
    """The body comparison ignores key order and whitespace."""
    async with Simulator() as sim, aiohttp.ClientSession() as http:
        ica = Ica(sim, http)
        headers = {"X-API-Key": "k", "Accept": V3, "Content-Type": V3, "Idempotency-Key": "order"}
        url = ica.url("/analysisCreationBatch")
        a = (
            b'{"cwlItems": [{"userReference": "o", "pipelineId": "p", '
            b'"analysisInput": {"objectType": "JSON", "inputJson": "{}"}}]}'
        )
        b = (
            b'{"cwlItems":[{"analysisInput":{"inputJson":"{}","objectType":"JSON"},'
            b'"pipelineId":"p","userReference":"o"}]}'
        )
        async with (
            http.post(url, data=a, headers=headers) as r1,
            http.post(url, data=b, headers=headers) as r2,
        ):
            assert (r1.status, r2.status) == (201, 201)
            assert await r1.json(content_type=None) == await r2.json(content_type=None)
        assert sim.stats.idempotent_replays == 1
