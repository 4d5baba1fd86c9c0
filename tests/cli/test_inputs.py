"""Input files of the CLI: what they yield, and errors that name file, line and field."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.cli._inputs import (
    InputError,
    UpdateChanges,
    parse_future,
    parse_when,
    read_data_ids,
    read_sample_sheet,
    read_transfer_pairs,
    read_update_groups,
)

from .helpers import write

PIPE = "9b1f0000-0000-4000-8000-000000000001"


def test_data_ids_skip_comments_blanks_and_header(tmp_path: Path) -> None:
    """Ids come in order, with repeats; comments, blank lines and a header are skipped."""
    path = write(tmp_path, "ids.txt", "dataId\n# run 7\nfil.a\n\n  fol.b  \nfil.a\n")
    assert read_data_ids(path) == ["fil.a", "fol.b", "fil.a"]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("fil.a\nfil b\n", 2, "dataId", "'fil b' is not a valid data id"),
        ("fil.a\n\n\n" + "f" * 300 + "\n", 4, "dataId", "data id of 300 characters; at most 255"),
        ("# only a comment\n", None, None, "no data ids found"),
    ],
)
def test_data_id_errors_name_file_line_field(
    tmp_path: Path, text: str, line: int | None, field: str | None, message: str
) -> None:
    """A bad id names the file, the line and the field."""
    path = write(tmp_path, "ids.txt", text)
    with pytest.raises(InputError) as raised:
        read_data_ids(path)
    error = raised.value
    assert (error.path, error.line, error.field) == (path, line, field)
    assert error.message == message
    where = path + (f":{line}" if line else "")
    assert str(error) == (f"{where}: {field}: {message}" if field else f"{where}: {message}")


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    """A missing file is reported as such, not as a traceback."""
    with pytest.raises(InputError) as raised:
        read_data_ids(str(tmp_path / "nope.txt"))
    assert str(raised.value) == f"{tmp_path / 'nope.txt'}: no such file"


def test_update_text_list_uses_the_flags(tmp_path: Path) -> None:
    """A plain id list becomes one group with the flags' changes."""
    path = write(tmp_path, "ids.txt", "fil.a\nfil.b\n")
    when = datetime(2030, 1, 1, tzinfo=UTC)
    groups, count = read_update_groups(path, UpdateChanges(add_tags=("qc",), archive_at=when))
    assert count == 2
    assert groups == [
        ita.DataUpdateGroup(
            ["fil.a", "fil.b"],
            user_tags=ita.TagUpdate(add_tags=["qc"]),
            will_be_archived_at=when,
        )
    ]


def test_update_text_list_without_changes_is_refused(tmp_path: Path) -> None:
    """Nothing to change is an error, not an empty batch."""
    path = write(tmp_path, "ids.txt", "fil.a\n")
    with pytest.raises(InputError) as raised:
        read_update_groups(path, UpdateChanges())
    assert str(raised.value) == (
        f"{path}: no changes: give tag or date flags (see --help), or use a CSV/JSON file with "
        "change columns"
    )


def test_update_csv_groups_rows_with_equal_changes(tmp_path: Path) -> None:
    """CSV rows with the same changes share one group; flags are merged into each row."""
    path = write(
        tmp_path,
        "spec.csv",
        "dataId,addTags,removeTags\nfil.a,qc;run7,\nfil.b,qc;run7,\nfol.c,,pending\n",
    )
    groups, count = read_update_groups(path, UpdateChanges(add_technical_tags=("t",)))
    assert count == 3
    assert [g.data_ids for g in groups] == [["fil.a", "fil.b"], ["fol.c"]]
    assert groups[0].user_tags == ita.TagUpdate(add_tags=["qc", "run7"])
    assert groups[1].user_tags == ita.TagUpdate(remove_tags=["pending"])
    assert groups[1].technical_tags == ita.TagUpdate(add_tags=["t"])


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("dataId,addTags\nfil.a,x\nfil b,x\n", 3, "dataId", "'fil b' is not a valid data id"),
        (
            "dataId,addTag\nfil.a,x\n",
            2,
            "addTag",
            "unknown column; expected dataId and addTags, removeTags, addTechnicalTags, "
            "removeTechnicalTags, willBeArchivedAt, willBeDeletedAt, clearWillBeArchivedAt, "
            "clearWillBeDeletedAt",
        ),
        (
            "dataId,willBeArchivedAt\nfil.a,soon\n",
            2,
            "willBeArchivedAt",
            "'soon' is not a time: use 2030-01-30T08:30:00Z, 2030-01-30 or +90d",
        ),
        (
            "dataId,willBeDeletedAt\nfol.a,2030-01-01\n",
            2,
            "willBeDeletedAt",
            "archive/delete times cannot be set on folders",
        ),
        (
            "dataId,clearWillBeArchivedAt\nfil.a,maybe\n",
            2,
            "clearWillBeArchivedAt",
            "expected true or false, got 'maybe'",
        ),
        ("dataId,addTags\nfil.a,\n", 2, None, "no changes for this data id"),
    ],
)
def test_update_csv_errors(
    tmp_path: Path, text: str, line: int, field: str | None, message: str
) -> None:
    """Each bad CSV cell is reported with its line and column."""
    path = write(tmp_path, "spec.csv", text)
    with pytest.raises(InputError) as raised:
        read_update_groups(path, UpdateChanges())
    assert (raised.value.line, raised.value.field, raised.value.message) == (line, field, message)


def test_update_json_reports_the_line_of_the_bad_object(tmp_path: Path) -> None:
    """In a JSON array, the error names the line where the offending object starts."""
    text = '[\n  {"dataId": "fil.a", "addTags": ["x"]},\n  {"dataId": "fil b", "addTags": "x"}\n]\n'
    path = write(tmp_path, "spec.json", text)
    with pytest.raises(InputError) as raised:
        read_update_groups(path, UpdateChanges())
    assert (raised.value.line, raised.value.field) == (3, "dataId")


def test_update_json_syntax_error_has_a_line(tmp_path: Path) -> None:
    """Broken JSON is reported with the decoder's line number."""
    path = write(tmp_path, "spec.json", '[\n {"dataId": "fil.a",\n "addTags": ]\n]')
    with pytest.raises(InputError) as raised:
        read_update_groups(path, UpdateChanges())
    assert str(raised.value) == f"{path}:3: invalid JSON: Expecting value"


def test_parse_when_forms() -> None:
    """ISO times, bare dates and +Nd offsets are UTC datetimes in whole seconds."""
    now = datetime(2025, 1, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert parse_when("2030-01-30T08:30:00Z") == datetime(2030, 1, 30, 8, 30, tzinfo=UTC)
    assert parse_when("2030-01-30") == datetime(2030, 1, 30, tzinfo=UTC)
    assert parse_when("+2d", now=now) == datetime(2025, 1, 3, 12, 0, tzinfo=UTC)
    with pytest.raises(ValueError) as raised:
        parse_when("tomorrow")
    assert str(raised.value) == (
        "'tomorrow' is not a time: use 2030-01-30T08:30:00Z, 2030-01-30 or +90d"
    )


def test_sample_sheet_csv_builds_nextflow_and_cwl_requests(tmp_path: Path) -> None:
    """Inputs, single and multi-value params, tags and the type column map onto the models."""
    text = (
        "userReference,pipelineId,input:reads,param:genome,param:adapters[],userTags,type\n"
        f"S1,{PIPE},fil.a;fil.b,GRCh38,AGATC;CTGTC,qc;run7,\n"
        f"S2,{PIPE},fil.c,,,,cwl\n"
    )
    first, second = read_sample_sheet(write(tmp_path, "sheet.csv", text))
    assert first == ita.CreateNextflowAnalysis(
        "S1",
        PIPE,
        ita.NextflowAnalysisInput(
            [ita.AnalysisDataInput("reads", data_ids=["fil.a", "fil.b"])],
            parameters=[
                ita.AnalysisParameterInput(code="genome", value="GRCh38"),
                ita.AnalysisParameterInput(code="adapters", multi_value=["AGATC", "CTGTC"]),
            ],
        ),
        tags=ita.CreateAnalysisTag(user_tags=["qc", "run7"]),
    )
    assert isinstance(second, ita.CreateCwlAnalysis)
    assert second.analysis_input == ita.CwlAnalysisStructuredInput(
        [ita.AnalysisDataInput("reads", data_ids=["fil.c"])]
    )


def test_sample_sheet_json_with_lists_and_default_pipeline(tmp_path: Path) -> None:
    """JSON rows may use arrays; --pipeline-id fills a missing pipelineId."""
    text = '[{"userReference": "S1", "input:reads": ["fil.a", "fil.b"], "param:n": 3}]'
    (request,) = read_sample_sheet(write(tmp_path, "sheet.json", text), pipeline_id=PIPE)
    assert isinstance(request, ita.CreateNextflowAnalysis)
    assert request.pipeline_id == PIPE
    assert request.analysis_input.inputs[0].data_ids == ["fil.a", "fil.b"]
    assert request.analysis_input.parameters == [ita.AnalysisParameterInput(code="n", value="3")]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            f"userReference,pipelineId\nS1,{PIPE}\nS1,{PIPE}\n",
            3,
            "userReference",
            "'S1' already used on line 2",
        ),
        (f"userReference,pipelineId\n,{PIPE}\n", 2, "userReference", "missing"),
        ("userReference,pipelineId\nS1,\n", 2, "pipelineId", "missing (or give --pipeline-id)"),
        (
            f"userReference,pipelineId,inputs:x\nS1,{PIPE},fil.a\n",
            2,
            "inputs:x",
            "unknown column; expected userReference, pipelineId, input:<code>, param:<code> "
            "or the optional columns in --help",
        ),
        (
            f"userReference,pipelineId,input:x\nS1,{PIPE},fil.a;b b\n",
            2,
            "input:x",
            "'b b' is not a valid data id",
        ),
        (
            f"userReference,pipelineId,type\nS1,{PIPE},wdl\n",
            2,
            "type",
            "'wdl': expected nextflow or cwl",
        ),
        (
            f"userReference,pipelineId\n\n# comment\nS1,{PIPE},extra\n",
            4,
            None,
            "3 cells but the header has 2 columns",
        ),
    ],
)
def test_sample_sheet_errors(
    tmp_path: Path, text: str, line: int, field: str | None, message: str
) -> None:
    """Each sheet error names the line and the column."""
    with pytest.raises(InputError) as raised:
        read_sample_sheet(write(tmp_path, "sheet.csv", text))
    assert (raised.value.line, raised.value.field, raised.value.message) == (line, field, message)


def test_sample_sheet_jsonl_error_line(tmp_path: Path) -> None:
    """JSON Lines errors name the physical line."""
    text = f'{{"userReference": "S1", "pipelineId": "{PIPE}"}}\n\n{{"userReference": 5}}\n'
    with pytest.raises(InputError) as raised:
        read_sample_sheet(write(tmp_path, "sheet.jsonl", text))
    assert (raised.value.line, raised.value.field) == (3, "pipelineId")


def test_transfer_pairs(tmp_path: Path) -> None:
    """Each 'source destination' line becomes one element."""
    path = write(
        tmp_path, "pairs.txt", "# header\ntapis://a/x tapis://b/x\n\ns3://b/k\thttps://c/k\n"
    )
    assert read_transfer_pairs(path) == [
        ita.ReqTransferElement("tapis://a/x", "tapis://b/x"),
        ita.ReqTransferElement("s3://b/k", "https://c/k"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("tapis://a/x\n", 1, "destinationURI"),
        ("tapis://a/x tapis://b/x\nnot-a-uri tapis://b/y\n", 2, "sourceURI"),
        ("tapis://a/x tapis://b/x extra\n", 1, None),
    ],
)
def test_transfer_pair_errors(tmp_path: Path, text: str, line: int, field: str | None) -> None:
    """A malformed pair names its line and which URI is wrong."""
    with pytest.raises(InputError) as raised:
        read_transfer_pairs(write(tmp_path, "pairs.txt", text))
    assert (raised.value.line, raised.value.field) == (line, field)


def test_data_ids_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-`` reads the ids from a pipe."""
    monkeypatch.setattr("sys.stdin", io.StringIO("fil.a\nfil.b\n"))
    assert read_data_ids("-") == ["fil.a", "fil.b"]


def test_stdin_from_a_terminal_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a file and without a pipe, the command says so instead of waiting forever."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    with pytest.raises(InputError) as raised:
        read_data_ids("-")
    assert str(raised.value) == (
        "<stdin>: no FILE given and nothing piped in: pass a file or pipe the input, "
        "e.g. ... < ids.txt"
    )


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("dataId,addTags\nfil.a,qc;;run7\n", "addTags", "empty entry in 'qc;;run7'"),
        (
            "dataId,willBeArchivedAt\nfil.a,2001-02-03\n",
            "willBeArchivedAt",
            "'2001-02-03' is in the past (now is {now}); archive and delete times must be in "
            "the future",
        ),
        (
            "dataId,willBeDeletedAt\nfil.a,-5d\n",
            "willBeDeletedAt",
            "'-5d': relative times count forward from now, e.g. +5d; a past time cannot be set",
        ),
    ],
)
def test_update_refuses_empty_tags_and_past_times(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    """An empty tag between separators and an archive/delete time already gone are refused."""
    path = write(tmp_path, "spec.csv", text)
    with pytest.raises(InputError) as raised:
        read_update_groups(path, UpdateChanges())
    error = raised.value
    if "{now}" in message:
        now = error.message.split("(now is ")[1].split(")")[0]
        message = message.replace("{now}", now)
    assert (error.line, error.field, error.message) == (2, field, message)


def test_update_json_list_with_an_empty_tag_is_refused(tmp_path: Path) -> None:
    """In a JSON array an empty string is as much a typo as ';;'."""
    path = write(tmp_path, "spec.jsonl", '{"dataId": "fil.a", "addTags": ["qc", " "]}\n')
    with pytest.raises(InputError) as raised:
        read_update_groups(path, UpdateChanges())
    assert str(raised.value) == f"{path}:1: addTags: empty entry in ['qc', ' ']"


def test_parse_future_refuses_the_past() -> None:
    """A time before now is refused with the current time; a later one passes."""
    now = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_future("+1h", now=now) == datetime(2030, 6, 1, 13, 0, tzinfo=UTC)
    with pytest.raises(ValueError) as raised:
        parse_future("2030-05-31", now=now)
    assert str(raised.value) == (
        "'2030-05-31' is in the past (now is 2030-06-01T12:00:00Z); archive and delete times "
        "must be in the future"
    )
