"""Validation-error reports: one :class:`ResponseValidationError` with a wire-name path.

cattrs reports a failed structure as a tree of exception groups whose notes name attributes and
list indexes. :func:`validation_error` walks that tree beside the data that failed and keeps the
leaves, spelled in wire names (``items[3].processing.status``). A value of the wrong JSON kind
(an array where an object belongs) is reported once, at its own path, instead of once for every
field cattrs then failed to read from it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping
from typing import Any, Union, get_args, get_origin

import attrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from ._errors import ResponseValidationError
from ._naming import wire_name

__all__ = ("TagError", "kind", "validation_error")

_MAX_MESSAGE = 300  # characters of one failure's text, as for an error body's text

_NONE_TYPE = type(None)


class TagError(ValueError):
    """A discriminator is missing or has a value no model declares."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def kind(value: Any) -> str:
    """JSON-ish name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


Segment = str | int
_ABSENT: Any = object()


def _field_wire_name(cl: Any, name: str) -> str:
    try:
        return wire_name(attrs.fields_dict(cl)[name])
    except (TypeError, KeyError, attrs.exceptions.NotAnAttrsClassError):
        return name


def _child(node: Any, segment: Segment) -> Any:
    """The value at ``segment`` inside ``node``, or ``_ABSENT``."""
    if isinstance(segment, int):
        return node[segment] if isinstance(node, list) and segment < len(node) else _ABSENT
    return node.get(segment, _ABSENT) if isinstance(node, Mapping) else _ABSENT


def _shape_error(tp: Any, node: Any) -> str | None:
    """Say so when ``node`` is not even the right kind of JSON value for ``tp``."""
    if node is _ABSENT:
        return None
    options = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    if node is None and _NONE_TYPE in options:
        return None
    if any(isinstance(o, type) and attrs.has(o) for o in options):
        return None if isinstance(node, Mapping) else f"expected an object, got {kind(node)}"
    if any(get_origin(o) is list for o in options):
        return None if isinstance(node, list) else f"expected an array, got {kind(node)}"
    return None


def _leaves(
    exc: BaseException, path: tuple[Segment, ...], node: Any
) -> Iterator[tuple[tuple[Segment, ...], str]]:
    """Walk cattrs' exception groups down to the failures, with where each one happened.

    ``node`` is the data at ``path``: a value of the wrong JSON kind (an array where an object
    belongs) is reported once, instead of every field cattrs then failed to read from it.
    """
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            where, child, tp = path, node, None
            for note in getattr(sub, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    key = _field_wire_name(exc.cl, note.name)
                    where, child, tp = (*path, key), _child(node, key), note.type
                elif isinstance(note, IterableValidationNote):
                    index = note.index
                    where, child, tp = (*path, index), _child(node, index), note.type
            shape = _shape_error(tp, child) if tp is not None else None
            if shape is not None:
                yield where, shape
            else:
                yield from _leaves(sub, where, child)
    elif isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            yield (*path, key), "unexpected field"
    elif isinstance(exc, TagError):
        yield (*path, exc.key), str(exc)
    elif isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner, path, node)
    elif isinstance(exc, KeyError) and node is _ABSENT:
        yield path, "required field is missing"
    else:
        yield path, str(exc) or type(exc).__name__


def _format_path(path: tuple[Segment, ...]) -> str:
    out = ""
    for segment in path:
        out += f"[{segment}]" if isinstance(segment, int) else f".{segment}" if out else segment
    return out


def _type_name(cls: Any) -> str:
    """``Job``, or ``list[TransferTask]`` without module prefixes."""
    return cls.__name__ if isinstance(cls, type) else re.sub(r"\b(?:\w+\.)+", "", str(cls))


def validation_error(exc: Exception, data: Any, cls: Any) -> ResponseValidationError:
    shape = _shape_error(cls, data)
    leaves = [((), shape)] if shape is not None else list(_leaves(exc, (), data))
    path, message = leaves[0] if leaves else ((), str(exc))
    # A failure may quote the server's value (``Invalid isoformat string: '…'``): cut it like
    # any text from a body, or a 60 MiB string becomes a 60 MiB message in every log.
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    if len(leaves) > 1:
        message += f" (and {len(leaves) - 1} more problem{'s' if len(leaves) > 2 else ''})"
    return ResponseValidationError(message, path=_format_path(path), model=_type_name(cls))
