"""Cell values: data ids, ';'-separated lists, flags and times, each checked with its place."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ._errors import InputError

__all__ = (
    "MAX_ID_LENGTH",
    "check_data_id",
    "flag_value",
    "parse_future",
    "parse_when",
    "strings_value",
    "text_value",
    "when_value",
)

MAX_ID_LENGTH: Final = 255
_DATA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
_SPLIT = ";"


def check_data_id(value: str, name: str, line: int | None, field: str) -> str:
    """A data id (e.g. ``fil.…``, ``fol.…``): letters, digits and ``._:-``, at most 255."""
    if not value:
        raise InputError(name, line, field, "empty data id")
    if len(value) > MAX_ID_LENGTH:
        raise InputError(name, line, field, f"data id of {len(value)} characters; at most 255")
    if not _DATA_ID.match(value):
        raise InputError(name, line, field, f"{value!r} is not a valid data id")
    return value


def strings_value(value: Any, name: str, line: int, field: str) -> list[str]:
    """A ';'-separated string or a JSON array of strings; an empty cell is no value at all.

    An empty entry inside a value (``qc;;run7``, ``["qc", ""]``) is refused: it is a typo, and
    an empty tag or data id would be refused by the server anyway.
    """
    if value is None:
        return []
    parts: list[str] | None = None
    if isinstance(value, str):
        if not value.strip():
            return []
        parts = [part.strip() for part in value.split(_SPLIT)]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = [v.strip() for v in value]
    if parts is not None:
        if not all(parts):
            raise InputError(name, line, field, f"empty entry in {value!r}")
        return parts
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    raise InputError(name, line, field, "expected a string or a list of strings")


def text_value(value: Any, name: str, line: int, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(name, line, field, "expected a string")
    return str(value).strip()


def flag_value(value: Any, name: str, line: int, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = text_value(value, name, line, field).lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise InputError(name, line, field, f"expected true or false, got {value!r}")


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A UTC time: ISO 8601 (``2030-01-30T08:30:00Z``), a date, or ``+<n>d`` from now.

    Raises:
        ValueError: an unreadable value.
    """
    text = text.strip()
    if re.fullmatch(r"-\d+[dh]", text):
        raise ValueError(
            f"{text!r}: relative times count forward from now, e.g. +{text[1:]}; "
            "a past time cannot be set"
        )
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
            f"{text!r} is not a time: use 2030-01-30T08:30:00Z, 2030-01-30 or +90d"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


def parse_future(text: str, *, now: datetime | None = None) -> datetime:
    """:func:`parse_when`, refusing a time that has already passed.

    Raises:
        ValueError: an unreadable value or a time in the past.
    """
    current = now or datetime.now(UTC)
    when = parse_when(text, now=current)
    if when < current.replace(microsecond=0):
        raise ValueError(
            f"{text.strip()!r} is in the past (now is {current:%Y-%m-%dT%H:%M:%SZ}); "
            "archive and delete times must be in the future"
        )
    return when


def when_value(value: Any, name: str, line: int, field: str) -> datetime | None:
    text = text_value(value, name, line, field)
    if not text:
        return None
    try:
        return parse_future(text)
    except ValueError as exc:
        raise InputError(name, line, field, str(exc)) from None
