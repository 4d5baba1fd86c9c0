"""Schema fuzzing of requests: our request models and the orchestrator's chunk builders.

Random instances of the request models (drawn from the spec's own request schemas, then
datetimes in any timezone put in) and the bodies the orchestrator builds from them must be
valid against the spec's request schemas; datetimes go out in UTC ``...Z``. Input holding a
NUL character is refused by the planner instead (a PostgreSQL journal cannot store it).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import attrs
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ica_tapis_async import RequestValidationError, models
from ica_tapis_async._converter import dumps, loads, structure_strict
from ica_tapis_async.orchestrator._plan import (
    chunk_analyses,
    chunk_data_ids,
    chunk_update_groups,
)

from ..contract._specs import ICA_SPEC, TAPIS_SPEC, json_schema, load_spec
from ._strategies import AWARE_DATETIMES, from_schema
from .test_responses import operation_schemas, spec_and_schema

REQUEST_SCHEMAS = (
    "CreateAnalysisCreationBatch",
    "CreateProjectDataLinkingBatch",
    "CreateProjectDataUpdateBatch",
    "ReqTransfer",
)
_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?(Z|[+-]\d\d:\d\d)")


def test_fuzzed_request_schemas_are_all_the_seed_bodies() -> None:
    """The list above is exactly what the seed operations take as bodies."""
    found = operation_schemas(ICA_SPEC, "bodies") | operation_schemas(TAPIS_SPEC, "bodies")
    assert found == set(REQUEST_SCHEMAS)


def _with_times(group: models.DataUpdateGroup, times: list[Any]) -> models.DataUpdateGroup:
    archive, delete = times
    return attrs.evolve(group, will_be_archived_at=archive, will_be_deleted_at=delete)


def _instances(name: str) -> st.SearchStrategy[Any]:
    """Instances of request model ``name``, built from spec-valid documents."""
    _, schema = spec_and_schema(name)
    cls = getattr(models, name)

    def build(doc: dict[str, Any]) -> Any:
        known = {k: v for k, v in doc.items() if k in schema["properties"]}
        return structure_strict(_drop_unknown(known, schema), cls)

    instances = from_schema(schema).map(build)
    if name != "CreateProjectDataUpdateBatch":
        return instances
    # Times in any zone (the spec only ever shows UTC): our datetimes are aware, of any offset.
    times = st.lists(st.none() | AWARE_DATETIMES, min_size=2, max_size=2)
    return st.builds(
        lambda batch, drawn: models.CreateProjectDataUpdateBatch(
            [_with_times(g, drawn) for g in batch.data_update_groups]
        ),
        instances,
        times,
    )


def _drop_unknown(doc: Any, schema: dict[str, Any]) -> Any:
    """``doc`` without the extra properties the generator adds (a caller cannot make them)."""
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    for branch in branches:
        if branch.get("type") != "null" and jsonschema.Draft7Validator(branch).is_valid(doc):
            return _drop_unknown(doc, branch)
    if isinstance(doc, list):
        return [_drop_unknown(item, schema.get("items", {})) for item in doc]
    if not isinstance(doc, dict):
        return doc
    properties = schema.get("properties")
    if not properties:
        return doc
    return {k: _drop_unknown(v, properties[k]) for k, v in doc.items() if k in properties}


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_request_models_make_spec_valid_bodies(name: str) -> None:
    """Whatever a caller can build, the body we send is valid against the request schema."""
    _, schema = spec_and_schema(name)
    validator = jsonschema.Draft7Validator(schema)

    @given(_instances(name))
    def check(request: Any) -> None:
        body = loads(dumps(request))
        validator.validate(body)
        for group in body.get("dataUpdateGroups", ()):
            for key in ("willBeArchivedAt", "willBeDeletedAt"):
                if key in group:
                    assert _UTC_TEXT.fullmatch(group[key]), group[key]
                    assert group[key].endswith("Z") or group[key].startswith("0001-")

    check()


def _collect(chunks: Any) -> list[Any]:
    async def run() -> list[Any]:
        return [chunk async for chunk in chunks]

    return asyncio.run(run())


def _has_nul(value: Any) -> bool:
    """Whether any string (key or value) of JSON-ready ``value`` holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _chunks_or_nul_refusal(chunks: Any, items: list[Any]) -> list[Any]:
    """The chunks; or, for input with a NUL somewhere, the planner's refusal (then none)."""
    if _has_nul(loads(dumps(items))):
        with pytest.raises(RequestValidationError, match="NUL character"):
            _collect(chunks)
        return []
    return _collect(chunks)


@given(st.data())
def test_orchestrator_chunk_bodies_are_spec_valid(data: st.DataObject) -> None:
    """The bodies the orchestrator builds (linking, update, analysis chunks) are spec-valid."""
    ica = load_spec(ICA_SPEC)
    size = data.draw(st.integers(1, 4), label="chunk size")
    ids = data.draw(
        st.lists(st.from_regex(r"\A(fil|fol)\.[a-z0-9]{1,12}\Z"), min_size=1, max_size=8)
    )
    link_schema = json_schema(ica, "CreateProjectDataLinkingBatch")
    for chunk in _collect(chunk_data_ids(ids, size)):
        jsonschema.validate(loads(dumps(chunk.body)), link_schema)

    updates = data.draw(_instances("CreateProjectDataUpdateBatch"), label="update batch")
    groups = [
        attrs.evolve(g, data_ids=[f"fil.{i}" for i in range(len(g.data_ids))] or ["fil.0"])
        for g in updates.data_update_groups
    ]
    if groups:
        update_schema = json_schema(ica, "CreateProjectDataUpdateBatch")
        for chunk in _chunks_or_nul_refusal(chunk_update_groups(groups, size), groups):
            jsonschema.validate(loads(dumps(chunk.body)), update_schema)

    analyses = data.draw(_instances("CreateAnalysisCreationBatch"), label="analysis batch")
    requests = [
        attrs.evolve(r, user_reference=f"run-{i}")
        for i, r in enumerate(
            [
                *(analyses.cwl_items or ()),
                *(analyses.nextflow_items or ()),
                *(analyses.nextflow_json_items or ()),
            ]
        )
    ]
    if requests:
        analysis_schema = json_schema(ica, "CreateAnalysisCreationBatch")
        for chunk in _chunks_or_nul_refusal(chunk_analyses(requests, size), requests):
            jsonschema.validate(loads(dumps(chunk.body)), analysis_schema)
