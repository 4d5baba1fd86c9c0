"""Data id lists: one id per line; blank lines, ``#`` comments and a ``dataId`` header skipped."""

from __future__ import annotations

from ._errors import InputError
from ._source import read_text
from ._values import check_data_id

__all__ = ("ids_of", "read_data_ids")


def read_data_ids(path: str) -> list[str]:
    """The data ids of a file (``-``: stdin), one per line, in order (repeats kept).

    Raises:
        InputError: an unreadable file, a malformed id, or no ids at all.
    """
    return ids_of(*read_text(path))


def ids_of(name: str, text: str) -> list[str]:
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
