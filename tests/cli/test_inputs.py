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
    parse_when,
    read_data_ids,
    read_sample_sheet,
    read_transfer_pairs,
    read_update_groups,
)

from .conftest import write

PIPE = "9b1f0000-0000-4000-8000-000000000001"


def test_data_ids_skip_comments_blanks_and_header(tmp_path: Path) -> None:
    """Ids come in order, with repeats; comments, blank lines and a header are skipped."""
    path = write(tmp_path, "ids.txt", "dataId\n# run 7\nfil.a\n\n  fol.b  \nfil.a\n")
    assert read_data_ids(path) == ["fil.a", "fol.b", "fil.a"]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("fil.a\nfil b\n", 2, "dataId", "'fil b' is not a valid data id"),
        ("fil.a\n\n\n" + "f" * 300 + "\n", 4, "dataId", "300 characters"),
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
    assert message in str(error)
    assert str(error).startswith(path + (f":{line}" if line else ""))


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    """A missing file is reported as such, not as a traceback."""
    with pytest.raises(InputError, match="no such file"):
        read_data_ids(str(tmp_path / "nope.txt"))


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
    with pytest.raises(InputError, match="no changes"):
        read_update_groups(path, UpdateChanges())


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
        ("dataId,addTags\nfil.a,x\nfil b,x\n", 3, "dataId", "not a valid data id"),
        ("dataId,addTag\nfil.a,x\n", 2, "addTag", "unknown column"),
        ("dataId,willBeArchivedAt\nfil.a,soon\n", 2, "willBeArchivedAt", "is not a time"),
        ("dataId,willBeDeletedAt\nfol.a,2030-01-01\n", 2, "willBeDeletedAt", "folders"),
        ("dataId,clearWillBeArchivedAt\nfil.a,maybe\n", 2, "clearWillBeArchivedAt", "true"),
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
    assert (raised.value.line, raised.value.field) == (line, field)
    assert message in str(raised.value)


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
    with pytest.raises(InputError, match="invalid JSON") as raised:
        read_update_groups(path, UpdateChanges())
    assert raised.value.line == 3


def test_parse_when_forms() -> None:
    """ISO times, bare dates and +Nd offsets are UTC datetimes in whole seconds."""
    now = datetime(2025, 1, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert parse_when("2030-01-30T08:30:00Z") == datetime(2030, 1, 30, 8, 30, tzinfo=UTC)
    assert parse_when("2030-01-30") == datetime(2030, 1, 30, tzinfo=UTC)
    assert parse_when("+2d", now=now) == datetime(2025, 1, 3, 12, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a time"):
        parse_when("tomorrow")


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
        (f"userReference,pipelineId\nS1,{PIPE}\nS1,{PIPE}\n", 3, "userReference", "line 2"),
        (f"userReference,pipelineId\n,{PIPE}\n", 2, "userReference", "missing"),
        ("userReference,pipelineId\nS1,\n", 2, "pipelineId", "missing"),
        (f"userReference,pipelineId,inputs:x\nS1,{PIPE},fil.a\n", 2, "inputs:x", "unknown"),
        (f"userReference,pipelineId,input:x\nS1,{PIPE},fil.a;b b\n", 2, "input:x", "'b b'"),
        (f"userReference,pipelineId,type\nS1,{PIPE},wdl\n", 2, "type", "nextflow or cwl"),
        (f"userReference,pipelineId\n\n# comment\nS1,{PIPE},extra\n", 4, None, "3 cells"),
    ],
)
def test_sample_sheet_errors(
    tmp_path: Path, text: str, line: int, field: str | None, message: str
) -> None:
    """Each sheet error names the line and the column."""
    with pytest.raises(InputError) as raised:
        read_sample_sheet(write(tmp_path, "sheet.csv", text))
    assert (raised.value.line, raised.value.field) == (line, field)
    assert message in str(raised.value)


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
    with pytest.raises(InputError, match="nothing piped in"):
        read_data_ids("-")
