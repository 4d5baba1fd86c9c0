"""Reading the CLI's input files; every error names the file, the line and the field.

Formats (chosen by extension, ``-`` reads stdin):

- data ids: one per line; blank lines and ``#`` comments are skipped, a ``dataId`` header too.
- update specs: the same id list (the flags give the changes), or CSV / JSON / JSON Lines rows
  with ``dataId`` and the columns of :data:`UPDATE_COLUMNS`.
- sample sheets: CSV / JSON / JSON Lines rows, see :data:`SAMPLE_SHEET_HELP`.
- transfer pairs: ``source destination`` per line (whitespace or tab separated).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs

from ..models import (
    AnalysisDataInput,
    AnalysisParameterInput,
    CreateAnalysisTag,
    CreateCwlAnalysis,
    CreateNextflowAnalysis,
    CwlAnalysisStructuredInput,
    DataUpdateGroup,
    NextflowAnalysisInput,
    ReqTransferElement,
    TagUpdate,
)
from ..orchestrator import AnalysisRequest

__all__ = (
    "SAMPLE_SHEET_HELP",
    "UPDATE_COLUMNS",
    "InputError",
    "UpdateChanges",
    "check_data_id",
    "parse_when",
    "read_data_ids",
    "read_sample_sheet",
    "read_transfer_pairs",
    "read_update_groups",
)

MAX_ID_LENGTH: Final = 255
_DATA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
_SPLIT = ";"

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

#: Columns of an update spec besides ``dataId`` (tags separated by ';', dates ISO 8601 UTC).
UPDATE_COLUMNS: Final = (
    "addTags",
    "removeTags",
    "addTechnicalTags",
    "removeTechnicalTags",
    "willBeArchivedAt",
    "willBeDeletedAt",
    "clearWillBeArchivedAt",
    "clearWillBeDeletedAt",
)

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


class InputError(Exception):
    """A bad input file: which file, which line, which field, and what is wrong (exit code 2)."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str) -> None:
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        self.path = path
        self.line = line
        self.field = field
        self.message = message


# -- sources ------------------------------------------------------------------------------------


def _read_text(path: str) -> tuple[str, str]:
    """The file's name for messages and its text; ``-`` is stdin."""
    if path == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError(
                "<stdin>",
                None,
                None,
                "no FILE given and nothing piped in: pass a file or pipe "
                "the input, e.g. ... < ids.txt",
            )
        return "<stdin>", sys.stdin.read()
    try:
        return path, Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, None, None, "no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, None, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(path, None, None, f"cannot read: {exc.strerror}") from None


def _kind(path: str, text: str, forced: str | None) -> str:
    if forced:
        return forced
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".json":
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".txt", ".list", ".ids", ""):
        stripped = text.lstrip()
        if path == "-" and stripped.startswith(("[", "{")):
            return "jsonl" if stripped.startswith("{") else "json"
    return "text"


def _rows(name: str, text: str, kind: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line, row) pairs of a CSV, JSON-array or JSON-Lines text."""
    if kind == "csv":
        yield from _csv_rows(name, text)
    elif kind == "json":
        yield from _json_rows(name, text)
    elif kind == "jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(name, number, None, f"invalid JSON: {exc.msg}") from None
            if not isinstance(value, dict):
                raise InputError(name, number, None, "expected a JSON object")
            yield number, value
    else:
        raise InputError(name, None, None, f"unsupported format {kind!r}")


def _csv_rows(name: str, text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    dialect: type[csv.Dialect] = csv.excel_tab if name.lower().endswith(".tsv") else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(name, reader.line_num, None, f"malformed CSV: {exc}") from None
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            for column in header:
                if not column:
                    raise InputError(name, start, None, "empty column name in the header")
            if len(set(header)) != len(header):
                dup = next(c for c in header if header.count(c) > 1)
                raise InputError(name, start, dup, "column appears twice in the header")
            continue
        if len(row) > len(header):
            raise InputError(
                name, start, None, f"{len(row)} cells but the header has {len(header)} columns"
            )
        yield start, {column: cell for column, cell in zip(header, row, strict=False)}
    if header is None:
        raise InputError(name, None, None, "empty: no header row")


def _json_rows(name: str, text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The objects of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    position = _skip(text, 0)
    if position >= len(text) or text[position] != "[":
        line = text.count("\n", 0, position) + 1
        raise InputError(name, line, None, "expected a JSON array of objects")
    position = _skip(text, position + 1)
    if position < len(text) and text[position] == "]":
        return
    while True:
        line = text.count("\n", 0, position) + 1
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise InputError(name, exc.lineno, None, f"invalid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise InputError(name, line, None, "expected a JSON object")
        yield line, value
        position = _skip(text, position)
        if position < len(text) and text[position] == ",":
            position = _skip(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            if _skip(text, position + 1) < len(text):
                line = text.count("\n", 0, position) + 1
                raise InputError(name, line, None, "invalid JSON: extra data after the array")
            return
        line = text.count("\n", 0, position) + 1
        raise InputError(name, line, None, "invalid JSON: expected ',' or ']'")


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


# -- values --------------------------------------------------------------------------------------


def check_data_id(value: str, name: str, line: int | None, field: str) -> str:
    """A data id (e.g. ``fil.…``, ``fol.…``): letters, digits and ``._:-``, at most 255."""
    if not value:
        raise InputError(name, line, field, "empty data id")
    if len(value) > MAX_ID_LENGTH:
        raise InputError(name, line, field, f"data id of {len(value)} characters; at most 255")
    if not _DATA_ID.match(value):
        raise InputError(name, line, field, f"{value!r} is not a valid data id")
    return value


def _strings(value: Any, name: str, line: int, field: str) -> list[str]:
    """A ';'-separated string or a JSON array of strings, without empty entries."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(_SPLIT) if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    raise InputError(name, line, field, "expected a string or a list of strings")


def _text(value: Any, name: str, line: int, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(name, line, field, "expected a string")
    return str(value).strip()


def _flag(value: Any, name: str, line: int, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value, name, line, field).lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise InputError(name, line, field, f"expected true or false, got {value!r}")


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A UTC time: ISO 8601 (``2025-01-30T08:30:00Z``), a date, or ``+<n>d`` from now.

    Raises:
        ValueError: an unreadable value.
    """
    text = text.strip()
    match = re.fullmatch(r"\+(\d+)([dh])", text)
    if match:
        amount = int(match.group(1))
        delta = timedelta(days=amount) if match.group(2) == "d" else timedelta(hours=amount)
        base = now or datetime.now(UTC)
        return (base + delta).replace(microsecond=0)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use 2025-01-30T08:30:00Z, 2025-01-30 or +90d"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


def _when(value: Any, name: str, line: int, field: str) -> datetime | None:
    text = _text(value, name, line, field)
    if not text:
        return None
    try:
        return parse_when(text)
    except ValueError as exc:
        raise InputError(name, line, field, str(exc)) from None


# -- data ids ------------------------------------------------------------------------------------


def read_data_ids(path: str) -> list[str]:
    """The data ids of a file (``-``: stdin), one per line, in order (repeats kept).

    Raises:
        InputError: an unreadable file, a malformed id, or no ids at all.
    """
    return _ids_of(*_read_text(path))


def _ids_of(name: str, text: str) -> list[str]:
    ids: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not ids and line in ("dataId", "data_id", "id"):
            continue  # a header line
        ids.append(check_data_id(line, name, number, "dataId"))
    if not ids:
        raise InputError(name, None, None, "no data ids found")
    return ids


# -- update specs --------------------------------------------------------------------------------


@attrs.frozen
class UpdateChanges:
    """One set of changes, applied to every data id that shares it."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    add_technical_tags: tuple[str, ...] = ()
    remove_technical_tags: tuple[str, ...] = ()
    archive_at: datetime | None = None
    delete_at: datetime | None = None
    clear_archive: bool = False
    clear_delete: bool = False

    @property
    def empty(self) -> bool:
        """No change at all."""
        return self == UpdateChanges()

    @property
    def sets_dates(self) -> bool:
        """Whether an archive or delete time is set (not allowed on folders)."""
        return self.archive_at is not None or self.delete_at is not None

    def merged(self, other: UpdateChanges) -> UpdateChanges:
        """These changes plus ``other``'s (``other``'s dates win when both set one)."""

        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys((*a, *b)))

        return UpdateChanges(
            union(self.add_tags, other.add_tags),
            union(self.remove_tags, other.remove_tags),
            union(self.add_technical_tags, other.add_technical_tags),
            union(self.remove_technical_tags, other.remove_technical_tags),
            other.archive_at or self.archive_at,
            other.delete_at or self.delete_at,
            self.clear_archive or other.clear_archive,
            self.clear_delete or other.clear_delete,
        )

    def group(self, data_ids: list[str]) -> DataUpdateGroup:
        """The API's update group for ``data_ids``."""
        user = (
            TagUpdate(
                add_tags=list(self.add_tags) or None, remove_tags=list(self.remove_tags) or None
            )
            if self.add_tags or self.remove_tags
            else None
        )
        technical = (
            TagUpdate(
                add_tags=list(self.add_technical_tags) or None,
                remove_tags=list(self.remove_technical_tags) or None,
            )
            if self.add_technical_tags or self.remove_technical_tags
            else None
        )
        return DataUpdateGroup(
            data_ids=data_ids,
            user_tags=user,
            technical_tags=technical,
            will_be_archived_at=self.archive_at,
            will_be_deleted_at=self.delete_at,
            clear_will_be_archived_at=True if self.clear_archive else None,
            clear_will_be_deleted_at=True if self.clear_delete else None,
        )


def _check_changes(changes: UpdateChanges, name: str, line: int | None, field: str) -> None:
    if changes.archive_at is not None and changes.clear_archive:
        raise InputError(name, line, field, "sets and clears the archive time at once")
    if changes.delete_at is not None and changes.clear_delete:
        raise InputError(name, line, field, "sets and clears the delete time at once")


def read_update_groups(
    path: str, changes: UpdateChanges, *, fmt: str | None = None
) -> tuple[list[DataUpdateGroup], int]:
    """The update groups of a file, and how many data ids they cover.

    ``changes`` (from the flags) apply to every data id; CSV/JSON rows add their own. Rows with
    the same changes share one group.

    Raises:
        InputError: an unreadable file, a malformed row, or nothing to change.
    """
    name, text = _read_text(path)
    kind = _kind(path, text, fmt)
    per_change: dict[UpdateChanges, list[str]] = {}
    count = 0
    if kind == "text":
        _check_changes(changes, "command line", None, "--archive-at/--delete-at")
        for data_id in _ids_of(name, text):
            per_change.setdefault(changes, []).append(data_id)
            count += 1
        if changes.empty:
            raise InputError(
                name,
                None,
                None,
                "no changes: give tag or date flags (see --help), "
                "or use a CSV/JSON file with change columns",
            )
    else:
        for line, row in _rows(name, text, kind):
            data_id = check_data_id(
                _text(row.get("dataId"), name, line, "dataId"), name, line, "dataId"
            )
            unknown = [k for k in row if k != "dataId" and k not in UPDATE_COLUMNS]
            if unknown:
                raise InputError(
                    name,
                    line,
                    unknown[0],
                    f"unknown column; expected dataId and {', '.join(UPDATE_COLUMNS)}",
                )
            own = UpdateChanges(
                tuple(_strings(row.get("addTags"), name, line, "addTags")),
                tuple(_strings(row.get("removeTags"), name, line, "removeTags")),
                tuple(_strings(row.get("addTechnicalTags"), name, line, "addTechnicalTags")),
                tuple(_strings(row.get("removeTechnicalTags"), name, line, "removeTechnicalTags")),
                _when(row.get("willBeArchivedAt"), name, line, "willBeArchivedAt"),
                _when(row.get("willBeDeletedAt"), name, line, "willBeDeletedAt"),
                _flag(row.get("clearWillBeArchivedAt"), name, line, "clearWillBeArchivedAt"),
                _flag(row.get("clearWillBeDeletedAt"), name, line, "clearWillBeDeletedAt"),
            )
            merged = changes.merged(own)
            if merged.empty:
                raise InputError(name, line, None, "no changes for this data id")
            _check_changes(merged, name, line, "willBeArchivedAt/willBeDeletedAt")
            if merged.sets_dates and data_id.startswith("fol."):
                field = "willBeArchivedAt" if merged.archive_at else "willBeDeletedAt"
                raise InputError(name, line, field, "archive/delete times cannot be set on folders")
            per_change.setdefault(merged, []).append(data_id)
            count += 1
        if not count:
            raise InputError(name, None, None, "no rows found")
    return [change.group(ids) for change, ids in per_change.items()], count


# -- sample sheets -------------------------------------------------------------------------------


def read_sample_sheet(
    path: str, *, pipeline_id: str | None = None, fmt: str | None = None
) -> list[AnalysisRequest]:
    """One analysis request per row of a sample sheet (see :data:`SAMPLE_SHEET_HELP`).

    Raises:
        InputError: an unreadable file, an unknown column, a missing or repeated
            ``userReference``, a missing ``pipelineId``, or a malformed data id.
    """
    name, text = _read_text(path)
    kind = _kind(path, text, fmt)
    if kind == "text":
        kind = "csv"
    requests: list[AnalysisRequest] = []
    seen: dict[str, int] = {}
    for line, row in _rows(name, text, kind):
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
                check_data_id(v, name, line, column) for v in _strings(value, name, line, column)
            ]
            if ids:
                inputs.append(AnalysisDataInput(parameter_code=code, data_ids=ids))
        elif code.endswith("[]"):
            values = _strings(value, name, line, column)
            if values:
                parameters.append(AnalysisParameterInput(code=code[:-2], multi_value=[*values]))
        else:
            text = _text(value, name, line, column)
            if text:
                parameters.append(AnalysisParameterInput(code=code, value=text))
    reference = _text(row.get("userReference"), name, line, "userReference")
    if not reference:
        raise InputError(name, line, "userReference", "missing")
    if len(reference) > MAX_ID_LENGTH:
        raise InputError(name, line, "userReference", f"{len(reference)} characters; at most 255")
    if reference in seen:
        raise InputError(
            name, line, "userReference", f"{reference!r} already used on line {seen[reference]}"
        )
    seen[reference] = line
    pipeline = _text(row.get("pipelineId"), name, line, "pipelineId") or (default_pipeline or "")
    if not pipeline:
        raise InputError(name, line, "pipelineId", "missing (or give --pipeline-id)")
    kind = _text(row.get("type"), name, line, "type").lower() or "nextflow"
    if kind not in ("nextflow", "cwl"):
        raise InputError(name, line, "type", f"{kind!r}: expected nextflow or cwl")
    tags = CreateAnalysisTag(
        technical_tags=[*_strings(row.get("technicalTags"), name, line, "technicalTags")] or None,
        user_tags=[*_strings(row.get("userTags"), name, line, "userTags")] or None,
        reference_tags=[*_strings(row.get("referenceTags"), name, line, "referenceTags")] or None,
    )
    common: dict[str, Any] = {
        "user_reference": reference,
        "pipeline_id": pipeline,
        "tags": tags if (tags.technical_tags or tags.user_tags or tags.reference_tags) else None,
        "output_parent_folder_id": _text(
            row.get("outputParentFolderId"), name, line, "outputParentFolderId"
        )
        or None,
        "analysis_storage_id": _text(row.get("analysisStorageId"), name, line, "analysisStorageId")
        or None,
        "activation_code_detail_id": _text(
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


# -- transfer pairs ------------------------------------------------------------------------------


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://\S+$")


def read_transfer_pairs(path: str) -> list[ReqTransferElement]:
    """One transfer element per ``source destination`` line.

    Raises:
        InputError: an unreadable file, a line without two URIs, or no pairs.
    """
    name, text = _read_text(path)
    elements: list[ReqTransferElement] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise InputError(
                name, number, "destinationURI", "missing: expected 'source destination'"
            )
        if len(parts) > 2:
            raise InputError(
                name, number, None, f"{len(parts)} fields; expected 'source destination'"
            )
        for field, uri in zip(("sourceURI", "destinationURI"), parts, strict=True):
            if not _URI.match(uri):
                raise InputError(
                    name, number, field, f"{uri!r} is not a URI like tapis://system/path"
                )
        elements.append(ReqTransferElement(source_uri=parts[0], destination_uri=parts[1]))
    if not elements:
        raise InputError(name, None, None, "no transfer pairs found")
    return elements


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in lists of ``size``."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
