"""Schema fuzzing of responses: random spec-valid answers of every seed operation.

For every response schema of the 20 seed operations (and the two token operations), documents
drawn from the OpenAPI schema itself must structure into our model, and unstructure into a
document that is still valid against the schema and equal to the input up to the documented
normalisations (README, "What the models guarantee"):

- unknown properties are dropped;
- an optional property sent as ``null`` is left out (absent and ``null`` both mean "not set");
- a date-time is written as the same instant in UTC, ``...Z``, with microseconds only when
  there are some (digits past the microsecond are dropped).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from hypothesis import given

from ica_tapis_async import models
from ica_tapis_async._converter import dumps, loads, structure, unstructure

from ..contract._specs import ICA_SPEC, TAPIS_SPEC, json_schema, load_spec
from ._strategies import from_schema

#: The seed operations, by spec; each answer schema of each is fuzzed.
SEED_OPERATIONS = {
    ICA_SPEC: (
        "createAnalysisCreationBatch",
        "getAnalysisCreationBatch",
        "getAnalysisCreationBatchItems",
        "getAnalysisCreationBatchItem",
        "createProjectDataLinkingBatch",
        "getProjectDataLinkingBatch",
        "getProjectDataLinkingBatchItems",
        "getProjectDataLinkingBatchItem",
        "getDataTransfers",
        "getDataTransfer",
        "abortDataTransfer",
        "createProjectDataUpdateBatch",
        "getProjectDataUpdateBatch",
        "getProjectDataUpdateBatchItems",
        "getProjectDataUpdateBatchItem",
        "createJwtToken",
        "refreshJwtToken",
    ),
    TAPIS_SPEC: (
        "getRecentTransferTasks",
        "createTransferTask",
        "getTransferTask",
        "cancelTransferTask",
        "getTransferTaskDetails",
    ),
}

#: The answer schemas those operations declare (checked against the specs below).
RESPONSE_SCHEMAS = (
    "AnalysisCreationBatch",
    "AnalysisCreationBatchItemPagedListV3",
    "AnalysisCreationBatchItemPagedListV4",
    "AnalysisCreationBatchItemV3",
    "AnalysisCreationBatchItemV4",
    "DataTransfer",
    "DataTransferPagedList",
    "Problem",
    "ProjectDataLinkingBatch",
    "ProjectDataLinkingBatchItem",
    "ProjectDataLinkingBatchItemPagedList",
    "ProjectDataLinkingBatchItemPagedListV4",
    "ProjectDataLinkingBatchItemV4",
    "ProjectDataUpdateBatch",
    "ProjectDataUpdateBatchItem",
    "ProjectDataUpdateBatchItemPagedList",
    "StringResponse",
    "Token",
    "TransferTaskListResponse",
    "TransferTaskResponse",
)


def operation_schemas(spec_name: str, part: str) -> set[str]:
    """Schema names of the seed operations' answers (``part="responses"``) or bodies."""
    wanted = set(SEED_OPERATIONS[spec_name])
    names: set[str] = set()
    for item in load_spec(spec_name)["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or operation.get("operationId") not in wanted:
                continue
            wanted.discard(operation["operationId"])
            if part == "responses":
                contents = [r.get("content") or {} for r in operation["responses"].values()]
            else:
                contents = [(operation.get("requestBody") or {}).get("content") or {}]
            for content in contents:
                names |= {media["schema"]["$ref"].rsplit("/", 1)[1] for media in content.values()}
    assert not wanted, f"operations missing from {spec_name}: {wanted}"
    return names


def spec_and_schema(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of component ``name`` and its validator-ready form."""
    for spec_name in (ICA_SPEC, TAPIS_SPEC):
        spec = load_spec(spec_name)
        if name in spec["components"]["schemas"]:
            return spec, json_schema(spec, name)
    raise AssertionError(f"{name} is in neither spec")


def test_fuzzed_schemas_are_all_the_seed_answers() -> None:
    """The list above is exactly what the seed operations answer with."""
    found = operation_schemas(ICA_SPEC, "responses") | operation_schemas(TAPIS_SPEC, "responses")
    assert found == set(RESPONSE_SCHEMAS)


# -- what unstructure must give back --

_DATETIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))"
)


def canonical_datetime(text: str) -> str:
    """``text`` as the converter writes it: UTC, ``Z``, microseconds only when non-zero."""
    m = _DATETIME.fullmatch(text)
    assert m is not None, text
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    when = datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC)
    if m.group(8):
        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10)))
        try:
            when -= offset if m.group(8) == "+" else -offset
        except OverflowError:  # no UTC form so close to the ends of the calendar
            return text.replace("t", "T")
    out = f"{when.year:04d}-{when:%m-%dT%H:%M:%S}"
    return f"{out}.{micro:06d}Z" if when.microsecond else f"{out}Z"


def expected(doc: Any, schema: dict[str, Any]) -> Any:
    """``doc`` after the documented normalisations, guided by its schema."""
    if doc is None:
        return None
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return expected(doc, _branch(doc, branches))
    if schema.get("type") == "array":
        return [expected(item, schema.get("items", {})) for item in doc]
    if schema.get("format") == "date-time":
        return canonical_datetime(doc)
    properties = schema.get("properties")
    if not properties:
        return doc
    required = set(schema.get("required", ()))
    return {
        key: expected(value, properties[key])
        for key, value in doc.items()
        if key in properties and (value is not None or key in required)
    }


def _branch(doc: Any, branches: list[dict[str, Any]]) -> dict[str, Any]:
    """The branch of a ``anyOf``/``oneOf`` that ``doc`` belongs to."""
    for branch in branches:
        if branch.get("type") == "null":
            continue
        if jsonschema.Draft7Validator(branch).is_valid(doc):
            return branch
    raise AssertionError(f"no branch takes {doc!r}")


@pytest.mark.parametrize("name", RESPONSE_SCHEMAS)
def test_random_spec_valid_answers_structure_and_round_trip(name: str) -> None:
    """Every schema-valid answer structures, and unstructures to a valid, equal document."""
    _, schema = spec_and_schema(name)
    validator = jsonschema.Draft7Validator(schema)
    cls = getattr(models, name)

    @given(from_schema(schema))
    def check(doc: Any) -> None:
        validator.validate(doc)  # the generator itself must stay honest
        obj = structure(loads(dumps(doc)), cls)
        out = unstructure(obj)
        validator.validate(out)
        assert out == expected(doc, schema)
        assert structure(out, cls) == obj

    check()
