"""Request-body validation against the spec schemas, reporting every bad field by its path.

A tiny declarative schema table (field -> type, required, limits) mirrors the request schemas of
the digests; :func:`validate` walks a decoded body and returns ``{"items[3].dataId": "must not
be blank", ...}``, which becomes the ``parameters`` of a 400 Problem.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

__all__ = ("validate",)

# type syntax: str | bool | uuid | datetime | enum:A|B | [Type] (list) | SchemaName
# entry: field -> (type, required, min_len, max_len)
Field = tuple[str, bool, int | None, int | None]


def _f(
    kind: str, required: bool = False, min_len: int | None = None, max_len: int | None = None
) -> Field:
    return (kind, required, min_len, max_len)


_ANALYSIS_COMMON: dict[str, Field] = {
    "userReference": _f("str", True, 1, 255),
    "pipelineId": _f("str", True, 1),
    "tags": _f("CreateAnalysisTag"),
    "analysisStorageId": _f("uuid"),
    "outputParentFolderId": _f("str"),
    "logs": _f("CreateAnalysisLogs"),
    "analysisOutput": _f("[AnalysisOutputMapping]"),
}

SCHEMAS: dict[str, dict[str, Field]] = {
    "CreateProjectDataLinkingBatch": {"items": _f("[CreateProjectDataLinkingBatchItem]", True)},
    "CreateProjectDataLinkingBatchItem": {"dataId": _f("str", True, 1)},
    "CreateProjectDataUpdateBatch": {"dataUpdateGroups": _f("[DataUpdateGroup]", True)},
    "DataUpdateGroup": {
        "dataIds": _f("[str]", True),
        "userTags": _f("TagUpdate"),
        "technicalTags": _f("TagUpdate"),
        "willBeArchivedAt": _f("datetime"),
        "willBeDeletedAt": _f("datetime"),
        "clearWillBeArchivedAt": _f("bool"),
        "clearWillBeDeletedAt": _f("bool"),
    },
    "TagUpdate": {"addTags": _f("[str]"), "removeTags": _f("[str]")},
    "CreateAnalysisCreationBatch": {
        "cwlItems": _f("[CreateCwlAnalysis]"),
        "nextflowItems": _f("[CreateNextflowAnalysis]"),
        "nextflowJsonItems": _f("[CreateNextflowJsonAnalysis]"),
    },
    "CreateCwlAnalysis": {
        **_ANALYSIS_COMMON,
        "analysisInput": _f("CwlAnalysisInput", True),
        "activationCodeDetailId": _f("uuid"),
    },
    "CreateNextflowAnalysis": {
        **_ANALYSIS_COMMON,
        "analysisInput": _f("NextflowAnalysisInput", True),
        "activationCodeDetailId": _f("uuid"),
    },
    "CreateNextflowJsonAnalysis": {
        **_ANALYSIS_COMMON,
        "inputFormValues": _f("NextflowJsonAnalysisInput", True),
    },
    "CreateAnalysisTag": {
        "technicalTags": _f("[str]"),
        "userTags": _f("[str]"),
        "referenceTags": _f("[str]"),
    },
    "CreateAnalysisLogs": {"logsFolderId": _f("str"), "logsFolderPath": _f("str")},
    "AnalysisOutputMapping": {
        "sourcePath": _f("str", True),
        "type": _f("enum:FILE|FOLDER"),
        "targetProjectId": _f("str", True),
        "targetPath": _f("str", True),
        "actionOnExist": _f("str"),
    },
    "CwlAnalysisStructuredInput": {
        "objectType": _f("enum:STRUCTURED|JSON", True),
        "inputs": _f("[AnalysisDataInput]", True),
        "parameters": _f("[AnalysisParameterInput]"),
        "referenceDataParameters": _f("[AnalysisReferenceDataParameter]"),
    },
    "CwlAnalysisJsonInput": {
        "objectType": _f("enum:STRUCTURED|JSON", True),
        "inputJson": _f("str", True),
        "dataIds": _f("[str]"),
        "mounts": _f("[AnalysisInputDataMount]"),
        "externalData": _f("[AnalysisInputExternalData]"),
    },
    "NextflowAnalysisInput": {
        "inputs": _f("[AnalysisDataInput]", True),
        "parameters": _f("[AnalysisParameterInput]"),
        "referenceDataParameters": _f("[AnalysisReferenceDataParameter]"),
    },
    "AnalysisDataInput": {
        "parameterCode": _f("str", True),
        "dataIds": _f("[str]"),
        "mounts": _f("[AnalysisInputDataMount]"),
        "externalData": _f("[AnalysisInputExternalData]"),
    },
    "AnalysisInputDataMount": {"dataId": _f("str", True), "mountPath": _f("str", True)},
    "AnalysisInputExternalData": {
        "url": _f("str", True),
        "type": _f("str", True),
        "mountPath": _f("str"),
        "s3Details": _f("AnalysisS3DataDetails"),
        "basespaceDetails": _f("AnalysisBaseSpaceDataDetails"),
    },
    "AnalysisS3DataDetails": {"storageCredentialsId": _f("uuid")},
    "AnalysisBaseSpaceDataDetails": {
        "workgroupId": _f("str"),
        "extensions": _f("str"),
        "pathPrefix": _f("str"),
    },
    "AnalysisParameterInput": {"code": _f("str"), "value": _f("str"), "multiValue": _f("[str]")},
    "AnalysisReferenceDataParameter": {"parameterCode": _f("str"), "referenceDataId": _f("uuid")},
    "NextflowJsonAnalysisInput": {
        "fields": _f("[InputFormFieldValues]"),
        "groups": _f("[InputFormGroup]"),
    },
    "InputFormFieldValues": {
        "id": _f("str", True),
        "values": _f("[str]"),
        "dataValues": _f("[InputFormData]"),
        "externalDataValues": _f("[AnalysisInputExternalData]"),
    },
    "InputFormData": {"dataId": _f("str", True), "mountPath": _f("str")},
    "InputFormGroup": {"id": _f("str", True), "values": _f("[InputFormGroupFieldValues]")},
    "InputFormGroupFieldValues": {"values": _f("[InputFormFieldValues]")},
    # Tapis
    "ReqTransfer": {"tag": _f("str"), "elements": _f("[ReqTransferElement]", True, 1)},
    "ReqTransferElement": {
        "sourceURI": _f("str", True, 1),
        "destinationURI": _f("str", True, 1),
        "optional": _f("bool"),
        "transferType": _f(
            "enum:TRANSFER|SERVICE_MOVE_DIRECTORY_CONTENTS|SERVICE_MOVE_FILE_OR_DIRECTORY"
        ),
        "srcSharedCtx": _f("str"),
        "destSharedCtx": _f("str"),
    },
}

_UNIONS = {
    "CwlAnalysisInput": (
        "objectType",
        {"STRUCTURED": "CwlAnalysisStructuredInput", "JSON": "CwlAnalysisJsonInput"},
    )
}
# lists whose items the spec declares nullable (``items-nullable`` in the digest): a null item
# there is allowed, anywhere else it is refused
ITEMS_NULLABLE = frozenset(
    {
        ("CreateCwlAnalysis", "analysisOutput"),
        ("CreateNextflowAnalysis", "analysisOutput"),
        ("CreateNextflowJsonAnalysis", "analysisOutput"),
        ("CreateAnalysisTag", "technicalTags"),
        ("CreateAnalysisTag", "userTags"),
        ("CreateAnalysisTag", "referenceTags"),
        ("CwlAnalysisStructuredInput", "parameters"),
        ("CwlAnalysisStructuredInput", "referenceDataParameters"),
        ("NextflowAnalysisInput", "parameters"),
        ("NextflowAnalysisInput", "referenceDataParameters"),
        ("AnalysisDataInput", "mounts"),
        ("AnalysisDataInput", "externalData"),
        ("CwlAnalysisJsonInput", "mounts"),
        ("CwlAnalysisJsonInput", "externalData"),
        ("AnalysisParameterInput", "multiValue"),
        ("InputFormFieldValues", "values"),
        ("InputFormFieldValues", "dataValues"),
        ("InputFormFieldValues", "externalDataValues"),
    }
)
# yyyy-MM-dd'T'HH:mm:ss'Z' as the spec asks; fractions and offsets are tolerated like Jackson does
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class _Walker:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.errors: dict[str, str] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "body", message)

    def value(
        self,
        kind: str,
        value: Any,
        path: str,
        min_len: int | None,
        max_len: int | None,
        nullable_items: bool = False,
    ) -> None:
        if kind.startswith("["):
            if not isinstance(value, list):
                self.error(path, "must be an array")
                return
            if min_len is not None and len(value) < min_len:
                self.error(path, "must not be empty")
            for i, element in enumerate(value):
                if element is None:
                    if not nullable_items:
                        self.error(f"{path}[{i}]", "must not be null")
                else:
                    self.value(kind[1:-1], element, f"{path}[{i}]", None, None)
        elif kind in ("str", "uuid", "datetime") or kind.startswith("enum:"):
            self.scalar(kind, value, path, min_len, max_len)
        elif kind == "bool":
            if not isinstance(value, bool):
                self.error(path, "must be a boolean")
        elif kind in _UNIONS:
            tag, choices = _UNIONS[kind]
            if not isinstance(value, dict):
                self.error(path, "must be an object")
            elif value.get(tag) not in choices:
                self.error(f"{path}.{tag}", f"must be one of {', '.join(choices)}")
            else:
                self.object(choices[value[tag]], value, path)
        else:
            self.object(kind, value, path)

    def scalar(
        self, kind: str, value: Any, path: str, min_len: int | None, max_len: int | None
    ) -> None:
        if not isinstance(value, str):
            self.error(path, "must be a string")
            return
        if min_len is not None and len(value.strip()) < min_len:
            self.error(
                path, "must not be blank" if min_len == 1 else f"size must be at least {min_len}"
            )
        elif max_len is not None and len(value) > max_len:
            self.error(path, f"size must be between {min_len or 0} and {max_len}")
        elif kind == "uuid":
            try:
                uuid.UUID(value)
            except ValueError:
                self.error(path, "must be a valid uuid")
        elif kind == "datetime" and not _DATETIME.match(value):
            self.error(path, "must be a date-time like 2021-01-30T08:30:00Z")
        elif kind.startswith("enum:") and value not in kind[5:].split("|"):
            self.error(path, f"must be one of {', '.join(kind[5:].split('|'))}")

    def object(self, schema: str, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.error(path, "must be an object")
            return
        fields = SCHEMAS[schema]
        for name, (kind, required, min_len, max_len) in fields.items():
            sub = f"{path}.{name}" if path else name
            if value.get(name) is None:
                if required:
                    self.error(sub, "must not be null")
                continue
            nullable_items = (schema, name) in ITEMS_NULLABLE
            self.value(kind, value[name], sub, min_len, max_len, nullable_items)
        if self.strict:
            for name in value:
                if name not in fields:
                    self.error(f"{path}.{name}" if path else name, "unknown field")


def validate(schema: str, body: Any, *, strict: bool) -> dict[str, str]:
    """Check ``body`` against request schema ``schema``; returns ``{field path: problem}``.

    Args:
        schema: a name from the table, e.g. ``CreateProjectDataLinkingBatch``.
        body: the decoded JSON body.
        strict: report fields the schema does not know.
    """
    walker = _Walker(strict)
    walker.object(schema, body, "")
    return walker.errors
