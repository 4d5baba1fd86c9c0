"""Spec fidelity: every answer of every simulated operation validates against the YAML spec.

Each of the 22 operations is called against the simulator in both media-type versions where
the spec offers two, with minimal and with full request bodies (every optional field, and the
nulls the spec allows), at each stage of a batch's and a transfer's life, under the default
configuration, under the faithful profile (unknown fields, approximate counts, stopped jobs,
failing Tapis children) and with injected faults. Each answer, success or Problem, is validated
with jsonschema against the response schema the spec gives for its status and Content-Type
(ICA) or, for Tapis' undocumented error answers, against the envelope shape of API-NOTES A2.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterator
from typing import Any

import aiohttp
import attrs
import jsonschema
import orjson
import pytest

from ica_tapis_async.simulator import Simulator, SimulatorConfig
from tests.contract._specs import ICA_SPEC, TAPIS_SPEC, json_schema, load_spec

PROJECT = "1b7e2a54-7d1c-4a63-9a8e-3f1f0c2d9e01"
PIPELINE = "6c2b3a8e-0d4f-4e1a-9b7c-5a3e2d1f0c9b"
V3 = "application/vnd.illumina.v3+json"
V4 = "application/vnd.illumina.v4+json"
PROBLEM = "application/problem+json"
BASIC = "Basic " + base64.b64encode(b"ana@example.org:pw").decode()
ENVELOPE = {"status", "message", "result", "version", "commit", "build", "metadata"}
# RFC 3339 date-times (the stock checker skips them without an optional package) and uuids
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
FORMATS = jsonschema.FormatChecker(["uuid"])


@FORMATS.checks("date-time")  # type: ignore[untyped-decorator]
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or _DATE_TIME.fullmatch(value) is not None


@attrs.frozen
class Answer:
    """One answer as received: which operation, its status, type and raw body."""

    operation: str
    status: int
    content_type: str
    body: bytes


@functools.cache
def _operations(spec_name: str) -> dict[str, dict[str, Any]]:
    spec = load_spec(spec_name)
    return {
        op["operationId"]: op["responses"]
        for ops in spec["paths"].values()
        for op in ops.values()
        if isinstance(op, dict) and "operationId" in op
    }


def _nulls_allowed(node: Any) -> Any:
    """Every property of ``node`` (recursively) may also be null.

    The Tapis spec marks nothing nullable, but the service serialises every unset field of its
    Java objects as null (API-NOTES A2-A4: ``result`` null on cancel, ``parentTasks`` null on
    create, no ``endTime`` before the end), and tapipy accepts that; the ICA spec marks its
    nullables and is held to them exactly.
    """
    if isinstance(node, list):
        return [_nulls_allowed(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nulls_allowed(v) for k, v in node.items()}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {
            name: {"anyOf": [_nulls_allowed(sub), {"type": "null"}]}
            for name, sub in node["properties"].items()
        }
    return out


@functools.cache
def _validator(spec_name: str, schema_name: str) -> jsonschema.Draft7Validator:
    schema = json_schema(load_spec(spec_name), schema_name)
    if spec_name == TAPIS_SPEC:
        schema = _nulls_allowed(schema)
    return jsonschema.Draft7Validator(schema, format_checker=FORMATS)


def _problems(answer: Answer) -> list[str]:
    """What is wrong with ``answer`` according to the spec (empty when it conforms)."""
    tapis = answer.operation in _operations(TAPIS_SPEC)
    spec_name = TAPIS_SPEC if tapis else ICA_SPEC
    responses = _operations(spec_name)[answer.operation]
    documented = responses.get(str(answer.status))
    if tapis and documented is None:
        if answer.status == 401:  # the JWT filter's bare text (API-NOTES A2)
            return [] if answer.content_type == "text/plain" else ["401 is not bare text"]
        body = orjson.loads(answer.body)
        missing = ENVELOPE - set(body)
        return [f"error envelope lacks {sorted(missing)}"] if missing else []
    if documented is None:
        documented = responses.get("default")
    if documented is None:
        return [f"status {answer.status} is not in the spec"]
    content = documented.get("content") or {}
    if not content:
        return [] if not answer.body else [f"{answer.status} must have no body"]
    media = content.get(answer.content_type)
    if media is None:
        return [f"Content-Type {answer.content_type} is not one of {sorted(content)}"]
    schema_name = media["schema"]["$ref"].rsplit("/", 1)[1]
    document = orjson.loads(answer.body)
    validator = _validator(spec_name, schema_name)
    return [
        f"{schema_name} at {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for top in validator.iter_errors(document)
        for e in _leaves(top)
    ]


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """The innermost errors (a nullable's anyOf otherwise hides why its value failed)."""
    inner = [c for c in error.context or () if c.validator_value != "null"]
    if not inner:
        yield error
    for child in inner:
        yield from _leaves(child)


class Caller:
    """Raw calls that record every answer for validation."""

    def __init__(self, sim: Simulator, http: aiohttp.ClientSession) -> None:
        self.sim, self.http = sim, http
        self.answers: list[Answer] = []

    async def ica(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        version: str = V3,
        body: Any = None,
        content_type: str | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        base = self.sim.ica_url
        url = (
            base + path
            if path.startswith("/api/tokens")
            else f"{base}/api/projects/{PROJECT}{path}"
        )
        hdrs = {"X-API-Key": "key", "Accept": version}
        if body is not None or method == "GET":
            hdrs["Content-Type"] = content_type or version
        hdrs.update(headers or {})
        data = orjson.dumps(body) if body is not None else None
        return await self._send(operation, method, url, hdrs, data, params)

    async def tapis(
        self, operation: str, method: str, path: str = "", *, body: Any = None, **kw: Any
    ) -> Any:
        url = f"{self.sim.tapis_url}/v3/files/transfers{path}"
        hdrs = {"X-Tapis-Token": "tok", **kw.pop("headers", {})}
        data = orjson.dumps(body) if body is not None else None
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        return await self._send(operation, method, url, hdrs, data, kw.pop("params", None))

    async def _send(
        self,
        operation: str,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        params: Any,
    ) -> Any:
        try:
            async with self.http.request(
                method, url, headers=headers, data=data, params=params
            ) as resp:
                raw = await resp.read()
                answer = Answer(operation, resp.status, resp.content_type, raw)
        except aiohttp.ClientError:
            return None  # a dropped connection is no answer
        self.answers.append(answer)
        if raw and "json" in answer.content_type:
            return orjson.loads(raw)
        return None


def _update_groups(full: bool) -> list[dict[str, Any]]:
    if not full:
        return [{"dataIds": ["fil.u1", "fil.missing-u", "fol.partial-u"]}]
    return [
        {
            "dataIds": ["fil.u2", "fil.u3", "fol.u4", "not an id"],
            "userTags": {"addTags": ["a", "b"], "removeTags": ["c"]},
            "technicalTags": {"addTags": ["t"], "removeTags": []},
            "willBeArchivedAt": "2031-01-02T03:04:05Z",
            "willBeDeletedAt": "2032-01-02T03:04:05Z",
        },
        {
            "dataIds": ["fil.u5"],
            "userTags": {"addTags": None, "removeTags": None},
            "clearWillBeArchivedAt": True,
            "clearWillBeDeletedAt": False,
        },
    ]


def _analyses(full: bool) -> dict[str, Any]:
    structured = {
        "objectType": "STRUCTURED",
        "inputs": [{"parameterCode": "reads", "dataIds": ["fil.in1"]}],
    }
    if not full:
        return {
            "cwlItems": [
                {"userReference": "c-min", "pipelineId": PIPELINE, "analysisInput": structured}
            ],
        }
    extra = {
        "tags": {"technicalTags": ["t", None], "userTags": None, "referenceTags": []},
        "analysisStorageId": "3a3b1c2d-0000-4000-8000-00000000abcd",
        "outputParentFolderId": "fol.out",
        "logs": {"logsFolderId": None, "logsFolderPath": "/logs"},
        "activationCodeDetailId": None,
    }
    return {
        "cwlItems": [
            {
                "userReference": "c-full",
                "pipelineId": PIPELINE,
                "analysisInput": structured,
                **extra,
            },
            {
                "userReference": "c-gone",
                "pipelineId": "00000000-0d4f-4e1a-9b7c-5a3e2d1f0c9b",
                "analysisInput": structured,
            },
        ],
        "nextflowItems": [
            {
                "userReference": "n-full",
                "pipelineId": PIPELINE,
                "analysisInput": {
                    "objectType": "STRUCTURED",
                    "inputs": [{"parameterCode": "reads", "dataIds": ["fil.missing-in"]}],
                },
                **extra,
            }
        ],
    }


async def _read_batch(call: Caller, kind: str, batch_id: str, versions: tuple[str, ...]) -> None:
    """GET the batch, its items (cursor, offset, filtered) and one item, in every version."""
    op = {"dataLinking": "ProjectDataLinking", "dataUpdate": "ProjectDataUpdate"}.get(
        kind, "AnalysisCreation"
    )
    path = f"/{kind}Batch/{batch_id}"
    await call.ica(f"get{op}Batch", "GET", path)
    for version in versions:
        page = await call.ica(f"get{op}BatchItems", "GET", path + "/items", version=version)
        await call.ica(
            f"get{op}BatchItems",
            "GET",
            path + "/items",
            version=version,
            params={"pageOffset": "1", "pageSize": "2"},
        )
        await call.ica(
            f"get{op}BatchItems",
            "GET",
            path + "/items",
            version=version,
            params=[("status", "FAILED"), ("status", "WAITING_RESOURCES")],
        )
        if page and page.get("items"):
            item_id = page["items"][0]["id"]
            await call.ica(f"get{op}BatchItem", "GET", f"{path}/items/{item_id}", version=version)


async def _exercise_ica(call: Caller, sim: Simulator) -> None:
    both = (V4, V3)
    batches: list[tuple[str, str, tuple[str, ...]]] = []
    for full in (False, True):
        ids = ["fil.l1", "fol.l2", "fol.partial-l"] + (["fil.missing-l", "bad id"] if full else [])
        for version, ctype in ((V4, V4), (V3, V3), (V4, "application/json")):
            made = await call.ica(
                "createProjectDataLinkingBatch",
                "POST",
                "/dataLinkingBatch",
                version=version,
                content_type=ctype,
                body={"items": [{"dataId": d} for d in ids]},
            )
            if made and "id" in made:
                batches.append(("dataLinking", made["id"], both))
        made = await call.ica(
            "createProjectDataUpdateBatch",
            "POST",
            "/dataUpdateBatch",
            body={"dataUpdateGroups": _update_groups(full)},
        )
        if made and "id" in made:
            batches.append(("dataUpdate", made["id"], (V3,)))
        made = await call.ica(
            "createAnalysisCreationBatch", "POST", "/analysisCreationBatch", body=_analyses(full)
        )
        if made and "id" in made:
            batches.append(("analysisCreation", made["id"], both))
    for advance in (0.0, 0.05, 0.2, 120.0):  # queued, running, finishing, long done
        sim.advance_clock(advance)
        for kind, batch_id, versions in batches:
            await _read_batch(call, kind, batch_id, versions)
        await _exercise_transfers(call)
    await _exercise_refusals(call)
    await _exercise_tokens(call)


async def _exercise_transfers(call: Caller) -> None:
    op = "getDataTransfers"
    page = await call.ica(op, "GET", "/dataTransfers", params={"pageSize": "10"})
    await call.ica(op, "GET", "/dataTransfers", params={"sort": "status desc, reference"})
    await call.ica(op, "GET", "/dataTransfers", params={"direction": "UPLOAD", "status": "ONGOING"})
    for transfer in (page or {}).get("items", [])[:4]:
        await call.ica("getDataTransfer", "GET", f"/dataTransfers/{transfer['id']}")
        await call.ica("abortDataTransfer", "POST", f"/dataTransfers/{transfer['id']}:abort")


async def _exercise_refusals(call: Caller) -> None:
    """Problems: bad ids, unknown batches, bad paging, negotiation, bad bodies, no auth."""
    gone = "6f5e4d3c-2b1a-4098-8765-43210fedcba9"
    await call.ica("getProjectDataLinkingBatch", "GET", "/dataLinkingBatch/not-a-uuid")
    await call.ica("getProjectDataUpdateBatch", "GET", f"/dataUpdateBatch/{gone}")
    await call.ica("getAnalysisCreationBatchItems", "GET", f"/analysisCreationBatch/{gone}/items")
    await call.ica("getDataTransfer", "GET", f"/dataTransfers/{gone}")
    await call.ica("getDataTransfers", "GET", "/dataTransfers", params={"pageSize": "0"})
    await call.ica("getDataTransfers", "GET", "/dataTransfers", params={"pageToken": "junk"})
    await call.ica("getDataTransfers", "GET", "/dataTransfers", params={"sort": "nope"})
    await call.ica("getProjectDataLinkingBatch", "GET", f"/dataLinkingBatch/{gone}", version=V4)
    await call.ica(
        "createProjectDataLinkingBatch",
        "POST",
        "/dataLinkingBatch",
        version=V3,
        content_type=V4,
        body={"items": [{"dataId": "fil.x"}]},
    )
    await call.ica(
        "createProjectDataLinkingBatch",
        "POST",
        "/dataLinkingBatch",
        version="text/html",
        content_type=V4,
        body={"items": [{"dataId": "fil.x"}]},
    )
    await call.ica(
        "createProjectDataUpdateBatch",
        "POST",
        "/dataUpdateBatch",
        content_type="text/plain",
        body={"dataUpdateGroups": []},
    )
    await call.ica("createProjectDataLinkingBatch", "POST", "/dataLinkingBatch", body={"items": []})
    await call.ica(
        "createProjectDataLinkingBatch", "POST", "/dataLinkingBatch", body={"items": [{"x": 1}]}
    )
    await call.ica(
        "createAnalysisCreationBatch",
        "POST",
        "/analysisCreationBatch",
        body={"cwlItems": [{"userReference": "p", "pipelineId": "pipe-1", "analysisInput": {}}]},
    )
    await call.ica(
        "createAnalysisCreationBatch",
        "POST",
        "/analysisCreationBatch",
        body=_analyses(False),
        headers={"Idempotency-Key": "x" * 300},
    )
    await call.ica("getDataTransfers", "GET", "/dataTransfers", headers={"X-API-Key": ""})


async def _exercise_tokens(call: Caller) -> None:
    made = await call.ica(
        "createJwtToken", "POST", "/api/tokens", headers={"X-API-Key": "", "Authorization": BASIC}
    )
    bearer = f"Bearer {made['token']}" if made and "token" in made else "Bearer x"
    await call.ica(
        "refreshJwtToken",
        "POST",
        "/api/tokens:refresh",
        headers={"X-API-Key": "", "Authorization": bearer},
    )
    keyed = await call.ica("createJwtToken", "POST", "/api/tokens")
    if keyed and "token" in keyed:  # a JWT made from an API key cannot be refreshed
        await call.ica(
            "refreshJwtToken",
            "POST",
            "/api/tokens:refresh",
            headers={"X-API-Key": "", "Authorization": f"Bearer {keyed['token']}"},
        )


def _tapis_body(full: bool) -> dict[str, Any]:
    if not full:
        return {
            "elements": [{"sourceURI": "tapis://src/a?files=3", "destinationURI": "tapis://d/a"}]
        }
    return {
        "tag": "full",
        "elements": [
            {
                "sourceURI": "tapis://src/b?files=4",
                "destinationURI": "tapis://d/b",
                "optional": False,
                "transferType": "TRANSFER",
                "srcSharedCtx": "ana",
                "destSharedCtx": None,
            },
            {"sourceURI": "https://host/f.bam", "destinationURI": "tapis://d/c", "optional": True},
            {"sourceURI": "tapis://src/missing", "destinationURI": "tapis://d/m", "optional": True},
        ],
    }


async def _exercise_tapis(call: Caller, sim: Simulator) -> None:
    uuids = []
    for full in (False, True):
        made = await call.tapis("createTransferTask", "POST", body=_tapis_body(full))
        if made and made.get("result"):
            uuids.append(made["result"]["uuid"])
    for advance in (0.0, 0.03, 0.08, 60.0):
        sim.advance_clock(advance)
        await call.tapis("getRecentTransferTasks", "GET", params={"limit": "5"})
        for task in uuids:
            await call.tapis("getTransferTask", "GET", f"/{task}")
            await call.tapis(
                "getTransferTask", "GET", f"/{task}", params={"includeSummary": "true"}
            )
            await call.tapis("getTransferTaskDetails", "GET", f"/{task}/details")
    if uuids:
        await call.tapis("cancelTransferTask", "DELETE", f"/{uuids[0]}")
        await call.tapis("getTransferTaskDetails", "GET", f"/{uuids[0]}/details")
    await call.tapis("getTransferTask", "GET", "/not-a-uuid")
    await call.tapis("getTransferTask", "GET", "/6f5e4d3c-2b1a-4098-8765-43210fedcba9")
    await call.tapis("createTransferTask", "POST", body={"elements": []})
    await call.tapis("getRecentTransferTasks", "GET", params={"limit": "5000"})
    await call.tapis("getRecentTransferTasks", "GET", headers={"X-Tapis-Token": ""})


def _configs() -> Iterator[tuple[str, SimulatorConfig]]:
    common: dict[str, Any] = {"basic_credentials": {"ana@example.org:pw"}, "analysis_run_s": 0.1}
    yield "default", SimulatorConfig(**common)
    yield (
        "faithful",
        SimulatorConfig.faithful(
            **common,
            stop_rate=0.5,
            partial_folder_rate=0.3,
            v3_folder_contents=2,
            tapis_child_fail_rate=0.3,
            tapis_step_s=0.02,
            tapis_file_s=0.01,
        ),
    )
    yield (
        "faults",
        SimulatorConfig(
            **common, p_500=0.15, p_503=0.15, p_drop_before=0.05, p_drop_after_post=0.1, seed=9
        ),
    )
    yield "throttled", SimulatorConfig(**common, rate_limit=50.0, rate_limit_burst=5, seed=4)


@pytest.mark.parametrize(("name", "config"), list(_configs()), ids=[n for n, _ in _configs()])
async def test_every_answer_validates_against_the_spec(name: str, config: SimulatorConfig) -> None:
    """Hundreds of answers across every operation; each one is what the spec allows."""
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        call = Caller(sim, http)
        await _exercise_ica(call, sim)
        await _exercise_tapis(call, sim)
    wrong = {
        f"{a.operation} {a.status} {a.content_type}": problems
        for a in call.answers
        if (problems := _problems(a))
    }
    assert wrong == {}
    operations = {a.operation for a in call.answers}
    assert operations <= set(_operations(ICA_SPEC)) | set(_operations(TAPIS_SPEC))
    if name in ("default", "faithful"):  # faults may fail a create that later calls need
        assert len(operations) == 22  # all 17 ICA and 5 Tapis operations
        assert 204 in {a.status for a in call.answers}  # the abort's empty answer
    statuses = {a.status for a in call.answers}
    assert {200, 201, 400, 404} <= statuses
    if name == "faults":
        assert {500, 503} <= statuses
    if name == "throttled":
        assert 429 in statuses


def test_the_check_catches_a_wrong_answer() -> None:
    """The validation is real: a schema violation, an undocumented type and a bad Problem."""
    item = orjson.dumps({"id": "not-a-uuid", "processing": {"status": "LINKED"}})
    found = _problems(Answer("getProjectDataLinkingBatchItem", 200, V4, item))
    assert found
    assert any("request" in p or "uuid" in p for p in found)
    assert _problems(Answer("getProjectDataLinkingBatch", 200, V4, b"{}"))
    assert _problems(Answer("getDataTransfers", 404, PROBLEM, b'{"title": "x"}'))
    assert _problems(Answer("abortDataTransfer", 204, "", b"x"))
    assert _problems(Answer("getTransferTask", 404, "application/json", b'{"status": "x"}'))
    stamp = orjson.dumps({"token": "t"})
    assert not _problems(Answer("createJwtToken", 200, V3, stamp))
    dated = {"id": PIPELINE, "job": {"id": PIPELINE, "status": "RUNNING", "timeCreated": "today"}}
    assert any(
        "date-time" in p
        for p in _problems(Answer("getProjectDataUpdateBatch", 200, V3, orjson.dumps(dated)))
    )
