"""Reading an input file (or stdin) and splitting CSV, JSON and JSON Lines texts into rows."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._interrupt import interruptible
from ._errors import InputError

__all__ = ("kind_of", "read_text", "rows_of")


def read_text(path: str) -> tuple[str, str]:
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
        # A pipe's writer may neither write nor end: a stop must not wait for it.
        with interruptible():
            return "<stdin>", sys.stdin.read()
    try:
        with interruptible():  # a named pipe, or a file on a hung network mount
            return path, Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, None, None, "no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, None, None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(path, None, None, f"cannot read: {exc.strerror}") from None


def kind_of(path: str, text: str, forced: str | None) -> str:
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


def rows_of(name: str, text: str, kind: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
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
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(name, reader.line_num, None, f"malformed CSV: {exc}") from None
        # The csv module ends an unclosed quoted cell at the end of the text, silently: every
        # row after the quote would be lost inside that one cell.
        opened = _unclosed_quote(text, start, dialect) if reader.line_num >= lines else None
        if opened is not None:
            raise InputError(
                name,
                start + opened,
                None,
                "unclosed quote: the quoted cell opened on this line runs to the end of the "
                'file (close it with ")',
            )
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


def _unclosed_quote(text: str, start: int, dialect: type[csv.Dialect]) -> int | None:
    """If the row starting on line ``start`` ends inside a quoted cell, the line (counted
    from ``start``) that cell opened on; read the way the csv module reads it: a quote opens
    a cell only at its start, and ``""`` inside one is a quote."""
    position = 0
    for _ in range(start - 1):
        position = text.index("\n", position) + 1
    quote, delimiter = dialect.quotechar or '"', dialect.delimiter
    quoted, at_start, pending, opened, line = False, True, False, 0, 0
    for char in text[position:]:
        if quoted:
            if pending:  # a quote inside a quoted cell: "" is a quote, else the cell closes
                pending = False
                if char == quote:
                    continue
                quoted = False
            elif char == quote:
                pending = True
                continue
        if quoted:
            line += char == "\n"
            continue
        if char == quote and at_start:
            quoted, opened = True, line
        at_start = char in (delimiter, "\n", "\r")
        line += char == "\n"
    return opened if quoted and not pending else None


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
