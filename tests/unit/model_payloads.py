"""Spec-valid wire payloads for any model class, built by walking its attrs fields.

``full_payload(cls)`` sets every field (nested models filled, lists of one element, datetimes in
the canonical ``...Z`` form the converter writes back); ``minimal_payload(cls)`` only the
required ones. Enum-typed strings get a value the spec allows (``ENUM_VALUES``), ids a UUID, so
the payloads also validate against the vendors' schemas.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, Union, get_args, get_origin

import attrs

from ica_tapis_async._converter import wire_name

__all__ = ("DATETIME", "ENUM_VALUES", "UUID", "full_payload", "minimal_payload")

UUID = "3f1c2a9e-8a4b-4c1d-9e2f-0a1b2c3d4e5f"
DATETIME = "2024-05-06T07:08:09Z"

#: A value the spec allows for every enum-typed string field, by ``Schema.wireName``.
ENUM_VALUES: dict[str, str] = {
    "AnalysisOutputMapping.type": "FILE",
    "Job.status": "SUCCEEDED",
    "User.greeting": "DR",
    "Project.billingMode": "PROJECT",
    "Project.analysisPriority": "MEDIUM",
    "StorageConfiguration.type": "AWS_S3",
    "StorageConfiguration.status": "OK",
    "MetadataModel.state": "PUBLISHED",
    "Application.type": "MAIN",
    "Bundle.status": "RELEASED",
    "AnalysisCreationBatchItemProcessing.status": "SUCCEEDED",
    "PipelineV4.status": "RELEASED",
    "PipelineV4.language": "NEXTFLOW",
    "PipelineV4.inputFormType": "JSON",
    "PipelineLanguageVersion.language": "NEXTFLOW",
    "AnalysisV3.status": "INPROGRESS",
    "AnalysisV3.analysisPriority": "LOW",
    "PipelineV3.status": "RELEASED",
    "PipelineV3.language": "CWL",
    "PipelineV3.inputFormType": "XML",
    "WorkflowSessionV3.status": "SUCCEEDED",
    "DataDetails.status": "AVAILABLE",
    "DataDetails.dataType": "FILE",
    "ProjectDataLinkingBatchItemProcessing.status": "LINKED",
    "DataTransfer.direction": "UPLOAD",
    "DataTransfer.protocol": "HTTPS",
    "DataTransfer.status": "SUCCEEDED",
    "Connector.mode": "BOTH",
    "Connector.os": "LINUX",
    "Connector.installationStatus": "INSTALLED",
    "ProjectDataUpdateBatchItemProcessing.status": "UPDATED",
    "ReqTransferElement.transferType": "TRANSFER",
    # Free strings in the spec, but with values worth being realistic about.
    "ProjectDataLinkingBatchItemProcessingV4.status": "ALREADY_LINKED",
    "AnalysisV4.status": "IN_PROGRESS",
    "WorkflowSessionV4.status": "IN_PROGRESS",
    "TransferTask.status": "COMPLETED",
    "TransferTaskParent.status": "COMPLETED",
    "TransferTaskChild.status": "COMPLETED",
}

#: Strings with a format or a documented shape.
_SPECIAL: dict[str, str] = {
    "Problem.type": "about:blank",
    "Problem.instance": "https://ica.example.org/ica/rest/api/projects",
    "Project.projectOwner": UUID,
    "TransferTask.uuid": UUID,
    "TransferTaskParent.uuid": UUID,
    "TransferTaskChild.uuid": UUID,
    "CreateAnalysisLogs.logsFolderPath": "/logs",
    "CwlAnalysisJsonInput.inputJson": '{"reads": "fil.1"}',
    "ReqTransferElement.sourceURI": "tapis://src-system/data/a.bam",
    "ReqTransferElement.destinationURI": "tapis://dst-system/data/a.bam",
}


def full_payload(cls: type[Any]) -> dict[str, Any]:
    """Every field of ``cls`` set, recursively."""
    return _payload(cls, minimal=False)


def minimal_payload(cls: type[Any]) -> dict[str, Any]:
    """Only the required fields of ``cls``, recursively."""
    return _payload(cls, minimal=True)


def _payload(cls: type[Any], *, minimal: bool) -> dict[str, Any]:
    attrs.resolve_types(cls)
    out: dict[str, Any] = {}
    for a in attrs.fields(cls):
        wire = wire_name(a)
        if not a.init:
            out[wire] = a.default  # a discriminator: fixed by the class
        elif not (minimal and a.default is None):
            out[wire] = _value(a.type, f"{cls.__name__}.{wire}", minimal=minimal)
    return out


def _value(tp: Any, where: str, *, minimal: bool) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        # ``X | None`` -> X; a union of models -> its first member.
        tp = next(t for t in get_args(tp) if t is not type(None))
    if attrs.has(tp):
        return _payload(tp, minimal=minimal)
    if get_origin(tp) is list:
        return [_value(get_args(tp)[0], where, minimal=minimal)]
    if get_origin(tp) is dict:
        return {"key": "value"}
    if tp is datetime:
        return DATETIME
    if tp is bool:
        return True
    if tp is int:
        return 7
    if tp is float:
        return 2.5
    if tp is str:
        return _string(where)
    raise TypeError(f"{where}: no sample value for {tp!r}")


def _string(where: str) -> str:
    if where in ENUM_VALUES:
        return ENUM_VALUES[where]
    if where in _SPECIAL:
        return _SPECIAL[where]
    wire = where.rpartition(".")[2]
    if wire == "id" or wire.endswith("Id"):
        return UUID
    return wire[:8]  # short enough for every maxLength, recognisable in a diff
