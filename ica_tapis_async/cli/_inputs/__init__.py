"""Reading the CLI's input files; every error names the file, the line and the field.

Formats (chosen by extension, ``-`` reads stdin):

- data ids: one per line; blank lines and ``#`` comments are skipped, a ``dataId`` header too.
- update specs: the same id list (the flags give the changes), or CSV / JSON / JSON Lines rows
  with ``dataId`` and the columns of :data:`UPDATE_COLUMNS`.
- sample sheets: CSV / JSON / JSON Lines rows, see :data:`SAMPLE_SHEET_HELP`.
- transfer pairs: ``source destination`` per line (whitespace or tab separated).
"""

from ._errors import InputError
from ._ids import read_data_ids
from ._pairs import chunked, read_transfer_pairs
from ._sheets import SAMPLE_SHEET_HELP, read_sample_sheet
from ._updates import UPDATE_COLUMNS, UpdateChanges, read_update_groups
from ._values import check_data_id, parse_future, parse_when

__all__ = (
    "SAMPLE_SHEET_HELP",
    "UPDATE_COLUMNS",
    "InputError",
    "UpdateChanges",
    "check_data_id",
    "chunked",
    "parse_future",
    "parse_when",
    "read_data_ids",
    "read_sample_sheet",
    "read_transfer_pairs",
    "read_update_groups",
)
