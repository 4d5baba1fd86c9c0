"""A CSV sample sheet with an unclosed quote is a file:line error, never a silently shorter
input (issue 19, point 9): the quoted cell would swallow every later row."""

from __future__ import annotations

from pathlib import Path

import pytest

from ica_tapis_async.cli._inputs import (
    InputError,
    UpdateChanges,
    read_sample_sheet,
    read_update_groups,
)

from .helpers import write

PIPE = "9b1f0000-0000-4000-8000-000000000001"
HEADER = "userReference,pipelineId,param:note\n"


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        ('S1,p,a\nS2,p,"open\nS3,p,c\nS4,p,d\n', 3),  # in the last column: S3, S4 vanished
        ('S1,p,a\n"S2,p,b\nS3,p,c\n', 3),  # at the start of a row
        ('S1,p,a\nS2,p,"x""y\n', 3),  # an escaped quote does not close it
        ('S1,p,"a"\nS2,p,"b', 3),  # no newline at the end
    ],
)
def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path: Path, rows: str, line: int) -> None:
    path = write(tmp_path, "sheet.csv", HEADER + rows)
    with pytest.raises(InputError) as caught:
        read_sample_sheet(path, pipeline_id=PIPE)
    assert caught.value.line == line
    assert str(caught.value) == (
        f"{path}:{line}: unclosed quote: the quoted cell opened on this line runs to the end "
        'of the file (close it with ")'
    )


def test_closed_quotes_spanning_lines_and_odd_quotes_in_plain_cells_are_kept(
    tmp_path: Path,
) -> None:
    """A quoted cell over several lines that closes, and a quote inside an unquoted cell (a
    5" disk), are valid CSV: read as before, every row."""
    text = HEADER + 'S1,p,"two\nlines"\nS2,p,5" disk\nS3,p,"last, with a comma"\n'
    requests = read_sample_sheet(write(tmp_path, "sheet.csv", text), pipeline_id=PIPE)
    assert [r.user_reference for r in requests] == ["S1", "S2", "S3"]


def test_update_csv_with_an_unclosed_quote_is_refused_too(tmp_path: Path) -> None:
    """The CSV reader is shared: an update file is not cut short either."""
    text = 'dataId,addTags\nfil.a,qc\nfil.b,"qc\nfil.c,qc\n'
    with pytest.raises(InputError, match=r":3: unclosed quote"):
        read_update_groups(write(tmp_path, "updates.csv", text), UpdateChanges())
