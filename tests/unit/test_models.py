"""The models and the converter: round trips, leniency, errors, datetimes, unions, requests."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from ica_tapis_async import models
from ica_tapis_async._converter import (
    dumps,
    loads,
    structure,
    structure_strict,
    unstructure,
    wire_name,
)
from ica_tapis_async._errors import RequestValidationError, ResponseValidationError
from ica_tapis_async.models import (
    AnalysisCreationBatch,
    AnalysisCreationBatchItemPagedListV3,
    AnalysisCreationBatchItemPagedListV4,
    AnalysisCreationBatchItemV3,
    AnalysisCreationBatchItemV4,
    AnalysisDataInput,
    CreateAnalysisCreationBatch,
    CreateCwlAnalysis,
    CreateProjectDataUpdateBatch,
    CwlAnalysisInput,
    CwlAnalysisJsonInput,
    CwlAnalysisStructuredInput,
    DataTransfer,
    DataTransferPagedList,
    DataUpdateGroup,
    Job,
    LinkingItemStatus,
    PipelineResources,
    Problem,
    ProjectDataLinkingBatch,
    ProjectDataLinkingBatchItem,
    ProjectDataLinkingBatchItemPagedList,
    ProjectDataLinkingBatchItemPagedListV4,
    ProjectDataLinkingBatchItemV4,
    ProjectDataUpdateBatch,
    ProjectDataUpdateBatchItem,
    ProjectDataUpdateBatchItemPagedList,
    ReqTransfer,
    ReqTransferElement,
    StringResponse,
    TagUpdate,
    Token,
    TransferStatus,
    TransferTask,
    TransferTaskListResponse,
    TransferTaskResponse,
)

from ..contract._specs import specs_or_skip
from .model_payloads import DATETIME, ENUM_VALUES, full_payload, minimal_payload

DIGESTS = ("ica-digest.txt", "tapis-files-digest.txt")

RESPONSE_MODELS: list[type[Any]] = [
    AnalysisCreationBatch,
    AnalysisCreationBatchItemPagedListV4,
    AnalysisCreationBatchItemPagedListV3,
    AnalysisCreationBatchItemV4,
    AnalysisCreationBatchItemV3,
    ProjectDataLinkingBatch,
    ProjectDataLinkingBatchItemPagedListV4,
    ProjectDataLinkingBatchItemPagedList,
    ProjectDataLinkingBatchItemV4,
    ProjectDataLinkingBatchItem,
    DataTransferPagedList,
    DataTransfer,
    ProjectDataUpdateBatch,
    ProjectDataUpdateBatchItemPagedList,
    ProjectDataUpdateBatchItem,
    Token,
    Problem,
    TransferTaskResponse,
    TransferTaskListResponse,
    StringResponse,
]
BUILDERS = {"full": full_payload, "minimal": minimal_payload}


def _read_digests() -> dict[str, dict[str, tuple[bool, list[str] | None]]]:
    """Schemas of the digests: name -> wire field -> (required, enum values)."""
    specs = specs_or_skip()
    schemas: dict[str, dict[str, tuple[bool, list[str] | None]]] = {}
    current: dict[str, tuple[bool, list[str] | None]] | None = None
    for name in DIGESTS:
        for line in (specs / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("### "):
                current = None
            elif m := re.match(r"^## (\w+)", line):
                current = schemas.setdefault(m.group(1), {})
            elif current is not None and (m := re.match(r"^  ([\w-]+)(\*?): (.*)$", line)):
                enum = re.search(r"enum=\[([^\]]*)\]", m.group(3).split("  ")[0])
                values = re.findall(r"'([^']*)'", enum.group(1)) if enum else None
                current[m.group(1)] = (m.group(2) == "*", values)
    return schemas


# -- round trips --


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("cls", RESPONSE_MODELS, ids=lambda c: c.__name__)
def test_response_round_trip(cls: type[Any], kind: str) -> None:
    """A spec-valid payload survives structure -> unstructure unchanged."""
    payload = BUILDERS[kind](cls)
    obj = structure_strict(payload, cls)
    assert isinstance(obj, cls)
    assert unstructure(obj) == payload
    assert structure(loads(dumps(obj)), cls) == obj


def test_full_payload_reaches_nested_models() -> None:
    """The full payload really fills nested models, lists and datetimes."""
    page = structure(
        full_payload(ProjectDataLinkingBatchItemPagedListV4), ProjectDataLinkingBatchItemPagedListV4
    )
    item = page.items[0]
    assert item.processing.status == LinkingItemStatus.ALREADY_LINKED
    assert item.created_project_data is not None
    details = item.created_project_data.data.details
    assert details is not None
    assert details.time_created == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert details.object_etag == "objectET"
    assert details.tags.user_tags == ["userTags"]


# -- leniency --


def test_unknown_fields_are_ignored() -> None:
    """Fields the models do not know, at any depth, are dropped by the lenient converter."""
    payload = full_payload(ProjectDataLinkingBatchItemPagedListV4)
    noisy = copy.deepcopy(payload)
    noisy["newTopLevel"] = 1
    noisy["items"][0]["processing"]["newNested"] = {"x": [1]}
    assert structure(noisy, ProjectDataLinkingBatchItemPagedListV4) == structure(
        payload, ProjectDataLinkingBatchItemPagedListV4
    )


def test_tapis_extra_fields_are_ignored() -> None:
    """Tapis sends fields outside its spec (``id``, ``finalMessage``); they are dropped."""
    payload = full_payload(TransferTaskResponse)
    payload["result"]["id"] = 42
    payload["result"]["parentTasks"][0]["finalMessage"] = "done"
    assert structure(payload, TransferTaskResponse).result is not None


def test_strict_converter_refuses_extra_keys() -> None:
    """The strict converter names the unexpected key with its wire path."""
    payload = full_payload(ProjectDataUpdateBatchItemPagedList)
    payload["items"][0]["request"]["surprise"] = True
    with pytest.raises(ResponseValidationError) as info:
        structure_strict(payload, ProjectDataUpdateBatchItemPagedList)
    assert info.value.path == "items[0].request.surprise"
    assert info.value.model == "ProjectDataUpdateBatchItemPagedList"


@pytest.mark.parametrize(
    ("cls", "path"),
    [
        (ProjectDataLinkingBatchItemPagedListV4, ("items", 0, "processing", "status")),
        (ProjectDataLinkingBatchItemPagedList, ("items", 0, "processing", "status")),
        (DataTransfer, ("status",)),
        (TransferTaskResponse, ("result", "status")),
        (Job, ("status",)),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_unknown_status_value_is_kept(cls: type[Any], path: tuple[str | int, ...]) -> None:
    """A status value newer than the spec is kept as the string it is."""
    payload = full_payload(cls)
    node: Any = payload
    for segment in path[:-1]:
        node = node[segment]
    node[path[-1]] = "TELEPORTED"
    obj = structure(payload, cls)
    assert unstructure(obj) == payload


# -- errors --


@pytest.mark.parametrize(
    ("cls", "path"),
    [
        (ProjectDataLinkingBatchItemPagedListV4, "items[0].processing.status"),
        (AnalysisCreationBatchItemPagedListV3, "items[0].request.pipelineId"),
        (DataTransferPagedList, "items[0].data.id"),
        (ProjectDataLinkingBatch, "job.owner.email"),
        (Problem, "timestamp"),
    ],
)
def test_missing_required_field_names_it(cls: type[Any], path: str) -> None:
    """A missing required field raises ResponseValidationError whose path (wire names) names it."""
    payload = minimal_payload(cls)
    *parents, leaf = re.split(r"\.|(?=\[)", path)
    node: Any = payload
    for segment in parents:
        node = node[int(segment[1:-1])] if segment.startswith("[") else node[segment]
    del node[leaf]
    with pytest.raises(ResponseValidationError) as info:
        structure(payload, cls)
    assert info.value.path == path
    assert info.value.model == cls.__name__
    assert "missing" in str(info.value)


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"items": "nope"}, "items", "expected an array, got string"),
        ({"items": [5]}, "items[0]", "expected an object, got number"),
        ([], "", "expected an object, got array"),
        (
            {"items": [{"id": "i", "request": {"dataId": 1}, "processing": {"status": "RUNNING"}}]},
            "items[0].request.dataId",
            "expected a string, got number",
        ),
    ],
)
def test_wrong_types_are_reported_where_they_are(data: Any, path: str, message: str) -> None:
    """A value of the wrong JSON type is blamed once, at its own path."""
    with pytest.raises(ResponseValidationError) as info:
        structure(data, ProjectDataLinkingBatchItemPagedListV4)
    assert info.value.path == path
    assert message in str(info.value)


def test_boolean_is_not_coerced_from_string() -> None:
    """``"false"`` must not silently become True."""
    with pytest.raises(ResponseValidationError, match="expected a boolean"):
        structure({"f1": "false"}, PipelineResources)


def test_top_level_list_paths() -> None:
    """Structuring ``list[Model]`` reports indexes from the root."""
    with pytest.raises(ResponseValidationError) as info:
        structure([{"uuid": 1}], list[TransferTask])
    assert info.value.path == "[0].uuid"
    assert info.value.model == "list[TransferTask]"


# -- datetimes --


@pytest.mark.parametrize(
    ("text", "offset", "written"),
    [
        ("2024-05-06T07:08:09Z", timedelta(0), "2024-05-06T07:08:09Z"),
        ("2024-05-06T07:08:09.933851Z", timedelta(0), "2024-05-06T07:08:09.933851Z"),
        ("2024-05-06T07:08:09+02:00", timedelta(hours=2), "2024-05-06T05:08:09Z"),
        ("2024-05-06T07:08:09-05:30", -timedelta(hours=5, minutes=30), "2024-05-06T12:38:09Z"),
        ("2024-05-06T07:08:09.500+00:00", timedelta(0), "2024-05-06T07:08:09.500000Z"),
    ],
)
def test_datetimes_parse_aware(text: str, offset: timedelta, written: str) -> None:
    """ISO-8601 with ``Z`` or an offset gives an aware datetime, written back as the same
    instant in UTC (the documented normalisation)."""
    task = structure({"created": text}, TransferTask)
    assert task.created is not None
    assert task.created.utcoffset() == offset
    assert unstructure(task) == {"created": written}


def test_naive_datetime_in_response_is_rejected() -> None:
    """A date-time without a timezone is a validation error naming the field."""
    with pytest.raises(ResponseValidationError) as info:
        structure({"created": "2024-05-06T07:08:09"}, TransferTask)
    assert info.value.path == "created"
    assert "timezone" in str(info.value)


def test_datetime_unstructure_forms() -> None:
    """Every datetime goes out in UTC as ``...Z`` (fraction only when set).

    Regression: a ``+02:00`` time used to go on the wire with its offset, which ICA's
    ``yyyy-MM-dd'T'HH:mm:ss'Z'`` request form does not allow.
    """
    plus2 = timezone(timedelta(hours=2))
    minus3 = timezone(-timedelta(hours=3))
    cases = {
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC): "2024-01-02T03:04:05Z",
        datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=UTC): "2024-01-02T03:04:05.000120Z",
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=plus2): "2024-01-02T01:04:05Z",
        datetime(2024, 1, 1, 23, 30, tzinfo=minus3): "2024-01-02T02:30:00Z",
        datetime(1, 1, 1, 0, 30, tzinfo=plus2): "0001-01-01T00:30:00+02:00",  # no UTC form
    }
    for value, text in cases.items():
        group = DataUpdateGroup(["fil.1"], will_be_archived_at=value)
        assert unstructure(group)["willBeArchivedAt"] == text


def test_naive_datetime_in_request_is_refused() -> None:
    """Sending a naive datetime raises RequestValidationError naming the field."""
    group = DataUpdateGroup(["fil.1"], will_be_deleted_at=datetime(2024, 1, 2))
    with pytest.raises(RequestValidationError) as info:
        dumps(CreateProjectDataUpdateBatch([group]))
    assert info.value.field == "DataUpdateGroup.willBeDeletedAt"


# -- the CwlAnalysisInput union --


@pytest.mark.parametrize(
    ("cls", "tag"), [(CwlAnalysisStructuredInput, "STRUCTURED"), (CwlAnalysisJsonInput, "JSON")]
)
def test_union_structures_by_object_type(cls: type[Any], tag: str) -> None:
    """``objectType`` picks the class; the payload round-trips with the tag set by the class."""
    payload = full_payload(cls)
    assert payload["objectType"] == tag
    obj = structure_strict(payload, CwlAnalysisInput)
    assert type(obj) is cls
    assert obj.object_type == tag
    assert unstructure(obj) == payload


def test_union_inside_a_request_round_trips() -> None:
    """A CWL analysis request holding either input kind survives the trip."""
    for analysis_input in (
        CwlAnalysisJsonInput('{"a": 1}', data_ids=["fil.1"]),
        CwlAnalysisStructuredInput([AnalysisDataInput("reads", data_ids=["fil.1"])]),
    ):
        request = CreateAnalysisCreationBatch(
            cwl_items=[CreateCwlAnalysis("run-1", "pipe-1", analysis_input)]
        )
        data = unstructure(request)
        assert data["cwlItems"][0]["analysisInput"]["objectType"] == analysis_input.object_type
        assert structure_strict(data, CreateAnalysisCreationBatch) == request


@pytest.mark.parametrize("tag", ["XML", None])
def test_union_unknown_object_type_is_an_error(tag: str | None) -> None:
    """An unknown or missing ``objectType`` raises ResponseValidationError at that key."""
    payload = full_payload(CreateCwlAnalysis)
    payload["analysisInput"]["objectType"] = tag
    with pytest.raises(ResponseValidationError) as info:
        structure(payload, CreateCwlAnalysis)
    assert info.value.path == "analysisInput.objectType"


def test_tagged_class_checks_its_own_tag() -> None:
    """Structuring a union member directly refuses the other member's tag."""
    with pytest.raises(ResponseValidationError) as info:
        structure({"objectType": "STRUCTURED", "inputJson": "{}"}, CwlAnalysisJsonInput)
    assert info.value.path == "objectType"


def test_object_type_is_not_an_init_argument() -> None:
    """Callers never type the discriminator."""
    with pytest.raises(TypeError):
        CwlAnalysisJsonInput("{}", object_type="JSON")  # type: ignore[call-arg]


# -- requests --


def test_transfer_request_omits_unset_fields() -> None:
    """ReqTransfer sends only what was set, with the spec's odd wire names."""
    body = ReqTransfer([ReqTransferElement("tapis://a/x", "tapis://b/y")])
    assert unstructure(body) == {
        "elements": [{"sourceURI": "tapis://a/x", "destinationURI": "tapis://b/y"}]
    }
    tagged = ReqTransfer([ReqTransferElement("a", "b", optional=False)], tag="run-1")
    assert loads(dumps(tagged)) == {
        "tag": "run-1",
        "elements": [{"sourceURI": "a", "destinationURI": "b", "optional": False}],
    }


def test_update_batch_request_omits_unset_fields() -> None:
    """CreateProjectDataUpdateBatch sends only the changes that were asked for."""
    group = DataUpdateGroup(["fil.1", "fil.2"], user_tags=TagUpdate(add_tags=["qc"]))
    assert unstructure(CreateProjectDataUpdateBatch([group])) == {
        "dataUpdateGroups": [{"dataIds": ["fil.1", "fil.2"], "userTags": {"addTags": ["qc"]}}]
    }


def test_analysis_batch_request_omits_unset_fields() -> None:
    """CreateAnalysisCreationBatch sends only the lists and fields that were given."""
    request = CreateAnalysisCreationBatch(
        cwl_items=[CreateCwlAnalysis("ref", "pipe", CwlAnalysisJsonInput("{}"))]
    )
    assert unstructure(request) == {
        "cwlItems": [
            {
                "userReference": "ref",
                "pipelineId": "pipe",
                "analysisInput": {"objectType": "JSON", "inputJson": "{}"},
            }
        ]
    }
    assert unstructure(CreateAnalysisCreationBatch()) == {}


def test_required_fields_are_positional_optional_ones_keyword_only() -> None:
    """Required fields go positionally in spec order; optional ones only by keyword."""
    element = ReqTransferElement("tapis://a/x", "tapis://b/y")
    assert (element.source_uri, element.destination_uri, element.optional) == (
        "tapis://a/x",
        "tapis://b/y",
        None,
    )
    with pytest.raises(TypeError):
        ReqTransferElement("a", "b", True)  # type: ignore[call-arg]


def test_irregular_wire_names() -> None:
    """``software-only``, ``sourceURI`` and ``objectETag`` map to plain snake_case attributes."""
    assert unstructure(PipelineResources(software_only=True)) == {"software-only": True}
    assert structure({"software-only": False}, PipelineResources).software_only is False
    names = {a.name: wire_name(a) for a in attrs.fields(models.DataDetails)}
    assert names["object_etag"] == "objectETag"


# -- coverage of the spec --


def test_every_digest_schema_has_a_model() -> None:
    """Each schema in the digests is exported by ``ica_tapis_async.models`` under its name."""
    schemas = _read_digests()
    missing = [n for n in schemas if n not in models.__all__ or not hasattr(models, n)]
    assert not missing  # UserNameString too (regression: it was left out)
    assert models.UserNameString is str
    for name in schemas:
        if name in ("UserNameString", "TransferStatusEnum", "CwlAnalysisInput"):
            continue
        assert attrs.has(getattr(models, name)), name
    assert models.TransferStatusEnum is str


def test_models_fields_match_the_digests() -> None:
    """Wire names and required-ness of every model match its schema."""
    for name, fields in _read_digests().items():
        cls = getattr(models, name, None)
        if cls is None or not attrs.has(cls):
            continue
        ours = {wire_name(a): a.default is attrs.NOTHING or not a.init for a in attrs.fields(cls)}
        assert ours == {wire: required for wire, (required, _) in fields.items()}, name


def test_payload_enum_values_are_allowed_by_the_spec() -> None:
    """The payload helper uses only values the spec allows for enum fields, and covers all."""
    schemas = _read_digests()
    enum_fields = {
        f"{name}.{wire}": values
        for name, fields in schemas.items()
        for wire, (_, values) in fields.items()
        if values and wire != "objectType"
    }
    for key, values in enum_fields.items():
        assert ENUM_VALUES.get(key) in values, key


@pytest.mark.parametrize(
    ("constants", "field", "relation"),
    [
        (models.JobStatus, "Job.status", "equal"),
        (models.LinkingItemStatus, "ProjectDataLinkingBatchItemProcessing.status", "superset"),
        (models.UpdateItemStatus, "ProjectDataUpdateBatchItemProcessing.status", "equal"),
        (models.AnalysisItemStatus, "AnalysisCreationBatchItemProcessing.status", "equal"),
        (models.DataTransferStatus, "DataTransfer.status", "equal"),
        (models.DataTransferDirection, "DataTransfer.direction", "equal"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_status_constants_match_the_spec(constants: Any, field: str, relation: str) -> None:
    """Each constants class knows every value its field's enum lists (V4 linking adds one)."""
    schema, wire = field.split(".")
    values = set(_read_digests()[schema][wire][1] or ())
    known: frozenset[str] = constants.ALL
    if relation == "equal":
        assert known == values
    else:
        assert known > values


def test_transfer_status_matches_the_spec_enum() -> None:
    """TransferStatus knows exactly the values of the TransferStatusEnum schema."""
    text = (specs_or_skip() / DIGESTS[1]).read_text(encoding="utf-8")
    enum = re.search(r"^## TransferStatusEnum\s+enum=\[(.*)\]", text, re.MULTILINE)
    assert enum is not None
    assert set(re.findall(r"'(\w+)'", enum.group(1))) == TransferStatus.ALL


def test_models_all_is_sorted_and_complete() -> None:
    """``models.__all__`` is a sorted tuple naming every public model and status class."""
    assert isinstance(models.__all__, tuple)
    assert list(models.__all__) == sorted(models.__all__)
    for name in models.__all__:
        assert getattr(models, name) is not None
    assert {"CwlAnalysisInput", "LinkingItemStatus", "TransferStatus"} <= set(models.__all__)


def test_status_constants_are_consistent() -> None:
    """For every status class, OK is within FINAL and FINAL within ALL."""
    for name in models._status.__all__:
        cls = getattr(models, name)
        assert all(isinstance(v, str) for v in cls.ALL)
        if hasattr(cls, "FINAL"):
            assert cls.OK <= cls.FINAL <= cls.ALL, name
    assert TransferStatus.FAILED_OPT in TransferStatus.PARENT_FINAL - TransferStatus.FINAL


def test_datetime_sample_is_canonical() -> None:
    """The helper's datetime is in the exact form the converter writes."""
    assert unstructure(structure({"created": DATETIME}, TransferTask)) == {"created": DATETIME}


# -- nulls the spec allows --


def test_nullable_items_survive_both_converters() -> None:
    """``items-nullable`` lists (DataTag, Bundle.categories) keep their nulls, fast or detailed."""
    payload = {"userTags": [None, "qc"], "technicalTags": None, "runInTags": []}
    for structure_fn in (structure, structure_strict):
        tags = structure_fn(payload, models.DataTag)
        assert tags.user_tags == [None, "qc"]
        assert tags.run_in_tags == []
        assert unstructure(tags) == {"userTags": [None, "qc"], "runInTags": []}
    outputs: dict[str, Any] = {"analysisOutput": [None], "userReference": "r", "pipelineId": "p"}
    outputs["analysisInput"] = {"objectType": "JSON", "inputJson": "{}", "mounts": [None]}
    analysis = structure_strict(outputs, CreateCwlAnalysis)
    assert analysis.analysis_output == [None]
    assert unstructure(analysis) == outputs


def test_bad_item_in_a_nullable_list_is_reported_at_its_index() -> None:
    """A null item is fine; a number among them is blamed at its own index."""
    with pytest.raises(ResponseValidationError) as info:
        structure({"userTags": [None, 5]}, models.DataTag)
    assert info.value.path == "userTags[1]"
    assert "expected a string, got number" in str(info.value)


def test_required_nullable_schema_may_be_null_but_not_absent() -> None:
    """``Job`` is a nullable schema: a linking batch's required ``job`` may be null, not missing.

    Regression: the old models refused ``"job": null`` with ResponseValidationError.
    """
    batch = structure({"id": "b", "job": None}, ProjectDataLinkingBatch)
    assert batch.job is None
    assert unstructure(batch) == {"id": "b", "job": None}
    with pytest.raises(ResponseValidationError, match="missing") as info:
        structure({"id": "b"}, ProjectDataUpdateBatch)
    assert info.value.path == "job"


def test_secret_fields_are_masked_in_reprs() -> None:
    """Token and Connector print that a credential is set, never the credential."""
    token = Token(token="eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig")
    assert "eyJ" not in repr(token)
    assert "********" in repr(token)
    assert repr(Token()) == "Token(token=None)"
    connector = structure(
        full_payload(models.Connector) | {"initializationKey": "init-secret-42"}, models.Connector
    )
    assert "init-secret-42" not in repr(connector)
    assert token == Token(token="eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig")  # masking is repr-only


@pytest.mark.parametrize(
    "text",
    ["2024-05-06t07:08:09Z", "2024-05-06T07:08:09z", "2024-05-06T07:08:09.123456789Z"],
)
def test_every_rfc3339_spelling_is_read(text: str) -> None:
    """Lower-case ``t``/``z`` and more than six fraction digits are valid RFC 3339 date-times.

    Regression (found by the schema fuzzing): ``...09z`` was a ResponseValidationError.
    """
    task = structure({"created": text}, TransferTask)
    assert task.created is not None
    assert task.created.replace(microsecond=0) == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
