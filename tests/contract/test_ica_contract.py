"""ICA contract: our request bodies are accepted by libica 3.3's models, its responses by ours.

libica (the vendor's generated SDK) is a test-only dependency: its pydantic v3 models are the
official reading of the spec.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

import ica_tapis_async as ita
from ica_tapis_async._converter import structure, unstructure

from ..resources.helpers import ICA, PROJECT, batch
from ..unit.fakes import FakeTransport
from ..unit.model_payloads import full_payload, minimal_payload

libica_models = pytest.importorskip("libica.openapi.v3.models")


def libica_model(name: str) -> Any:
    """libica's pydantic class for a schema name."""
    return getattr(libica_models, name)


def libica_json(model: Any) -> Any:
    """What libica holds for ``model``, as JSON, with its oneOf wrappers unwrapped."""
    return _unwrap(orjson.loads(model.model_dump_json(by_alias=True, exclude_unset=True)))


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"actual_instance"}:
            return _unwrap(value["actual_instance"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def contains(theirs: Any, ours: Any) -> bool:
    """Whether every value we sent is in libica's reading (it may add its own defaults)."""
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(
            k in theirs and contains(theirs[k], v) for k, v in ours.items()
        )
    if isinstance(ours, list):
        return (
            isinstance(theirs, list)
            and len(theirs) == len(ours)
            and all(contains(t, o) for t, o in zip(theirs, ours, strict=True))
        )
    return bool(_same_instant(theirs, None) == _same_instant(ours, None))


def libica_strict(payload: Any) -> Any:
    """libica 3.3 validates AnalysisV4.analysisPriority against LOW|MEDIUM|HIGH although the
    spec makes it a free string; give it a value it accepts."""
    if isinstance(payload, dict):
        return {
            k: ("MEDIUM" if k == "analysisPriority" and v is not None else libica_strict(v))
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [libica_strict(v) for v in payload]
    return payload


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _same_instant(a: Any, b: Any) -> Any:
    """Normalise date-time strings so '...Z' and '+00:00' compare equal."""
    if isinstance(a, dict):
        return {k: _same_instant(v, None) for k, v in a.items()}
    if isinstance(a, list):
        return [_same_instant(v, None) for v in a]
    if isinstance(a, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)", a):
        return datetime.fromisoformat(a).astimezone(UTC).isoformat()
    return a


def requests_sent() -> list[tuple[str, Callable[[], ita.CreateAnalysisCreationBatch | Any]]]:
    """Every request body model we send, with the schema name libica knows it by."""
    tags = ita.TagUpdate(add_tags=["qc"], remove_tags=["raw"])
    when = datetime(2030, 1, 30, 8, 30, tzinfo=UTC)
    structured = ita.CwlAnalysisStructuredInput(
        [ita.AnalysisDataInput("reads", data_ids=["fil.1"])],
        parameters=[ita.AnalysisParameterInput(code="threads", value="4")],
    )
    return [
        (
            "CreateProjectDataLinkingBatch",
            lambda: ita.CreateProjectDataLinkingBatch(
                [
                    ita.CreateProjectDataLinkingBatchItem("fil.1"),
                    ita.CreateProjectDataLinkingBatchItem("fol.2"),
                ]
            ),
        ),
        (
            "CreateProjectDataUpdateBatch",
            lambda: ita.CreateProjectDataUpdateBatch(
                [
                    ita.DataUpdateGroup(
                        ["fil.1"],
                        user_tags=tags,
                        technical_tags=tags,
                        will_be_archived_at=when,
                        will_be_deleted_at=when,
                    ),
                    ita.DataUpdateGroup(["fil.2"], clear_will_be_archived_at=True),
                ]
            ),
        ),
        (
            "CreateAnalysisCreationBatch",
            lambda: ita.CreateAnalysisCreationBatch(
                cwl_items=[
                    ita.CreateCwlAnalysis(
                        "s-1", "p-1", structured, tags=ita.CreateAnalysisTag(user_tags=["a"])
                    ),
                    ita.CreateCwlAnalysis("s-2", "p-1", ita.CwlAnalysisJsonInput("{}")),
                ],
                nextflow_items=[
                    ita.CreateNextflowAnalysis(
                        "s-3",
                        "p-2",
                        ita.NextflowAnalysisInput([ita.AnalysisDataInput("in")]),
                        logs=ita.CreateAnalysisLogs(logs_folder_path="/logs"),
                    )
                ],
                nextflow_json_items=[
                    ita.CreateNextflowJsonAnalysis(
                        "s-4",
                        "p-3",
                        ita.NextflowJsonAnalysisInput(
                            fields=[ita.InputFormFieldValues("f", values=["1"])]
                        ),
                    )
                ],
            ),
        ),
    ]


@pytest.mark.parametrize(("schema", "build"), requests_sent(), ids=lambda v: str(v)[:40])
def test_request_bodies_accepted_by_libica(schema: str, build: Callable[[], Any]) -> None:
    """libica's model of the schema parses our body and gives back the same content."""
    ours = unstructure(build())
    theirs = libica_model(schema).from_json(orjson.dumps(ours).decode())
    assert theirs is not None
    assert contains(libica_json(theirs), ours)


async def test_bodies_on_the_wire_are_accepted_by_libica() -> None:
    """The bytes the resources really send parse with libica's models."""
    sent: list[tuple[str, bytes]] = []
    http = FakeTransport()
    async with ita.IcaClient(ICA, transport=http, api_key="k") as ica:
        base = f"{ICA}/api/projects/{PROJECT}"
        http.post(f"{base}/dataLinkingBatch", status=201, payload=batch())
        http.post(f"{base}/dataUpdateBatch", status=201, payload=batch())
        http.post(f"{base}/analysisCreationBatch", status=201, payload=batch())
        builds = dict(requests_sent())
        await ica.data_linking_batches.create(PROJECT, ["fil.1", "fol.2"])
        await ica.data_update_batches.create(
            PROJECT,
            builds["CreateProjectDataUpdateBatch"]().data_update_groups,  # type: ignore[union-attr]
        )
        await ica.analysis_creation_batches.create(PROJECT, builds["CreateAnalysisCreationBatch"]())
        for (_, url), calls in http.requests.items():
            name = str(url).rsplit("/", 1)[-1]
            sent.extend((name, call.kwargs["data"]) for call in calls)
    schemas = {
        "dataLinkingBatch": "CreateProjectDataLinkingBatch",
        "dataUpdateBatch": "CreateProjectDataUpdateBatch",
        "analysisCreationBatch": "CreateAnalysisCreationBatch",
    }
    assert len(sent) == 3
    for name, body in sent:
        assert libica_model(schemas[name]).from_json(body.decode()) is not None


RESPONSES = [
    "ProjectDataLinkingBatch",
    "ProjectDataLinkingBatchItemV4",
    "ProjectDataLinkingBatchItemPagedListV4",
    "ProjectDataLinkingBatchItem",
    "ProjectDataLinkingBatchItemPagedList",
    "ProjectDataUpdateBatch",
    "ProjectDataUpdateBatchItem",
    "ProjectDataUpdateBatchItemPagedList",
    "AnalysisCreationBatch",
    "AnalysisCreationBatchItemV4",
    "AnalysisCreationBatchItemPagedListV4",
    "AnalysisCreationBatchItemV3",
    "AnalysisCreationBatchItemPagedListV3",
    "DataTransfer",
    "DataTransferPagedList",
    "Token",
    "Problem",
]


@pytest.mark.parametrize("schema", RESPONSES)
@pytest.mark.parametrize("build", [full_payload, minimal_payload], ids=["full", "minimal"])
def test_libica_responses_structure_into_ours(schema: str, build: Callable[[type], Any]) -> None:
    """A response as libica's model emits it structures into our model with the same content."""
    ours_cls = getattr(importlib.import_module("ica_tapis_async.models"), schema)
    theirs = libica_model(schema).from_dict(libica_strict(build(ours_cls)))
    emitted = libica_json(theirs)
    model = structure(emitted, ours_cls)
    assert isinstance(model, ours_cls)
    # libica 3.3 knows a few fields newer than our spec (e.g. AnalysisV4.projectId): we ignore
    # those, and everything we keep must be exactly what libica emitted.
    assert contains(_strip_nulls(emitted), unstructure(model))
