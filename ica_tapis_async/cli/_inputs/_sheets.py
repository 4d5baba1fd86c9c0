"""Sample sheets: one analysis request per CSV / JSON / JSON Lines row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ...models import (
    AnalysisDataInput,
    AnalysisParameterInput,
    CreateAnalysisTag,
    CreateCwlAnalysis,
    CreateNextflowAnalysis,
    CwlAnalysisStructuredInput,
    NextflowAnalysisInput,
)
from ...orchestrator import AnalysisRequest
from ._errors import InputError
from ._source import kind_of, read_text, rows_of
from ._values import MAX_ID_LENGTH, check_data_id, strings_value, text_value

__all__ = ("SAMPLE_SHEET_HELP", "read_sample_sheet")

SAMPLE_SHEET_HELP: Final = """\
sample sheet (CSV with a header row, a JSON array of objects, or JSON Lines), one analysis per row:
  userReference        required, unique in the sheet, 1-255 characters
  pipelineId           required (or give --pipeline-id for every row)
  input:<code>         data ids for the pipeline input <code>, separated by ';'
  param:<code>         the value of parameter <code>
  param:<code>[]       a multi-value parameter, values separated by ';'
  userTags, technicalTags, referenceTags      tags separated by ';'
  outputParentFolderId, analysisStorageId, activationCodeDetailId   optional ids
  type                 nextflow (default) or cwl
In JSON, list values may be arrays instead of ';'-separated strings. Empty cells are ignored.
Example (CSV):
  userReference,pipelineId,input:reads,param:genome,userTags
  S1,5e4a...,fil.aa;fil.bb,GRCh38,qc;run7"""

_SHEET_FIXED: Final = frozenset(
    {
        "userReference",
        "pipelineId",
        "userTags",
        "technicalTags",
        "referenceTags",
        "outputParentFolderId",
        "analysisStorageId",
        "activationCodeDetailId",
        "type",
    }
)


def read_sample_sheet(
    path: str, *, pipeline_id: str | None = None, fmt: str | None = None
) -> list[AnalysisRequest]:
    """One analysis request per row of a sample sheet (see :data:`SAMPLE_SHEET_HELP`).

    Raises:
        InputError: an unreadable file, an unknown column, a missing or repeated
            ``userReference``, a missing ``pipelineId``, or a malformed data id.
    """
    name, text = read_text(path)
    kind = kind_of(path, text, fmt)
    if kind == "text":
        kind = "csv"
    requests: list[AnalysisRequest] = []
    seen: dict[str, int] = {}
    for line, row in rows_of(name, text, kind):
        requests.append(_analysis(row, name, line, pipeline_id, seen))
    if not requests:
        raise InputError(name, None, None, "no rows found")
    return requests


def _analysis(
    row: Mapping[str, Any], name: str, line: int, default_pipeline: str | None, seen: dict[str, int]
) -> AnalysisRequest:
    inputs: list[AnalysisDataInput] = []
    parameters: list[AnalysisParameterInput | None] = []
    for column, value in row.items():
        if column in _SHEET_FIXED:
            continue
        prefix, sep, code = column.partition(":")
        if not sep or prefix not in ("input", "param") or not code.strip():
            raise InputError(
                name,
                line,
                column,
                "unknown column; expected userReference, pipelineId, input:<code>, "
                "param:<code> or the optional columns in --help",
            )
        code = code.strip()
        if prefix == "input":
            ids = [
                check_data_id(v, name, line, column)
                for v in strings_value(value, name, line, column)
            ]
            if ids:
                inputs.append(AnalysisDataInput(parameter_code=code, data_ids=ids))
        elif code.endswith("[]"):
            values = strings_value(value, name, line, column)
            if values:
                parameters.append(AnalysisParameterInput(code=code[:-2], multi_value=[*values]))
        else:
            text = text_value(value, name, line, column)
            if text:
                parameters.append(AnalysisParameterInput(code=code, value=text))
    reference = text_value(row.get("userReference"), name, line, "userReference")
    if not reference:
        raise InputError(name, line, "userReference", "missing")
    if len(reference) > MAX_ID_LENGTH:
        raise InputError(name, line, "userReference", f"{len(reference)} characters; at most 255")
    if reference in seen:
        raise InputError(
            name, line, "userReference", f"{reference!r} already used on line {seen[reference]}"
        )
    seen[reference] = line
    pipeline = text_value(row.get("pipelineId"), name, line, "pipelineId") or (
        default_pipeline or ""
    )
    if not pipeline:
        raise InputError(name, line, "pipelineId", "missing (or give --pipeline-id)")
    kind = text_value(row.get("type"), name, line, "type").lower() or "nextflow"
    if kind not in ("nextflow", "cwl"):
        raise InputError(name, line, "type", f"{kind!r}: expected nextflow or cwl")
    tags = CreateAnalysisTag(
        technical_tags=[*strings_value(row.get("technicalTags"), name, line, "technicalTags")]
        or None,
        user_tags=[*strings_value(row.get("userTags"), name, line, "userTags")] or None,
        reference_tags=[*strings_value(row.get("referenceTags"), name, line, "referenceTags")]
        or None,
    )
    common: dict[str, Any] = {
        "user_reference": reference,
        "pipeline_id": pipeline,
        "tags": tags if (tags.technical_tags or tags.user_tags or tags.reference_tags) else None,
        "output_parent_folder_id": text_value(
            row.get("outputParentFolderId"), name, line, "outputParentFolderId"
        )
        or None,
        "analysis_storage_id": text_value(
            row.get("analysisStorageId"), name, line, "analysisStorageId"
        )
        or None,
        "activation_code_detail_id": text_value(
            row.get("activationCodeDetailId"), name, line, "activationCodeDetailId"
        )
        or None,
    }
    if kind == "cwl":
        return CreateCwlAnalysis(
            analysis_input=CwlAnalysisStructuredInput(inputs=inputs, parameters=parameters or None),
            **common,
        )
    return CreateNextflowAnalysis(
        analysis_input=NextflowAnalysisInput(inputs=inputs, parameters=parameters or None),
        **common,
    )
