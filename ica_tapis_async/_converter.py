"""The one converter between the attrs models and JSON data.

Built on ``cattrs.preconf.orjson.make_converter()``, never the global converter. Naming lives
here, not in the models: an attribute ``snake_case`` is ``snakeCase`` on the wire, unless the
field carries ``metadata={"wire": ...}`` (the few spec names the rule cannot produce, such as
``sourceURI`` or ``software-only``).

- Structuring is lenient (unknown keys are ignored: servers add fields) and checks types:
  strings, numbers, booleans, and timezone-aware ISO-8601 datetimes. Every failure becomes a
  :class:`~ica_tapis_async.ResponseValidationError` whose ``path`` uses wire names, e.g.
  ``items[3].processing.status``. :func:`structure_strict` also refuses unknown keys; tests and
  the simulator use it so that fixtures cannot drift from the models.
- Unstructuring omits optional fields left at ``None``, writes UTC datetimes as
  ``YYYY-MM-DDTHH:MM:SSZ`` (microseconds only when set), and refuses naive datetimes with a
  :class:`~ica_tapis_async.RequestValidationError`.
- A model with an ``init=False`` string field (the discriminator, e.g. ``object_type``) sends
  that field, and a union of such models (``CwlAnalysisInput``) is structured to the member
  whose value matches; an unknown value is a validation error.

The hooks are generated once per class and cached by cattrs, so structuring a page of 1,000
items costs no more than the generated code itself.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, Union, get_args, get_origin, overload

import attrs
import orjson
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
    StructureHandlerNotFoundError,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.orjson import OrjsonConverter, make_converter

from ._errors import RequestValidationError, ResponseValidationError

__all__ = (
    "dumps",
    "loads",
    "structure",
    "structure_strict",
    "unstructure",
    "wire_name",
)

T = TypeVar("T")
_NONE_TYPE = type(None)


def wire_name(attribute: attrs.Attribute[Any]) -> str:
    """The JSON key of a model attribute: its ``wire`` metadata, else camelCase of its name."""
    explicit = attribute.metadata.get("wire")
    if explicit is not None:
        return str(explicit)
    head, *rest = attribute.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _tag(cl: type) -> tuple[attrs.Attribute[Any], str] | None:
    """The discriminator of a model: its ``init=False`` field with a string default."""
    for a in attrs.fields(cl):
        if not a.init and isinstance(a.default, str):
            return a, a.default
    return None


class _TagError(ValueError):
    """A discriminator is missing or has a value no model declares."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def _kind(value: Any) -> str:
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


# -- primitives: check the JSON type instead of coercing ("false" must not become True) --


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {_kind(value)}")


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {_kind(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {_kind(value)}")


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise TypeError(f"expected a boolean, got {_kind(value)}")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 date-time string, got {_kind(value)}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"date-time {value!r} has no timezone")
    return parsed


def _unstructure_datetime(value: datetime, field: str | None = None) -> str:
    offset = value.utcoffset()
    if offset is None:
        raise RequestValidationError(
            "naive datetime; give it a timezone, e.g. tzinfo=datetime.UTC", field=field
        )
    if not offset:
        # isoformat() writes microseconds only when they are not zero.
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


# -- hook factories --


def _is_datetime(tp: Any) -> bool:
    return tp is datetime or (
        get_origin(tp) in (Union, types.UnionType) and datetime in get_args(tp)
    )


def _structure_factory(converter: OrjsonConverter, *, forbid_extra_keys: bool) -> Any:
    def factory(cl: type[Any]) -> Callable[[Any, Any], Any]:
        attrs.resolve_types(cl)
        renames: dict[str, Any] = {
            a.name: override(rename=wire_name(a)) for a in attrs.fields(cl) if a.init
        }
        hook = make_dict_structure_fn(
            cl, converter, _cattrs_forbid_extra_keys=forbid_extra_keys, **renames
        )
        tag = _tag(cl)
        if tag is None:
            return hook
        key, value = wire_name(tag[0]), tag[1]

        def structure_tagged(data: Any, _: Any) -> Any:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected an object, got {_kind(data)}")
            if data.get(key) != value:
                raise _TagError(f"expected {value!r}, got {data.get(key)!r}", key)
            if forbid_extra_keys:
                # The tag is not an __init__ argument, so the strict hook would call it extra.
                data = {k: v for k, v in data.items() if k != key}
            return hook(data, cl)

        return structure_tagged

    return factory


def _is_tagged_union(tp: Any) -> bool:
    if get_origin(tp) not in (Union, types.UnionType):
        return False
    members = [m for m in get_args(tp) if m is not _NONE_TYPE]
    return len(members) > 1 and all(
        isinstance(m, type) and attrs.has(m) and _tag(m) is not None for m in members
    )


def _union_factory(converter: OrjsonConverter) -> Any:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        members = [m for m in get_args(tp) if m is not _NONE_TYPE]
        nullable = len(members) < len(get_args(tp))
        by_value: dict[str, type[Any]] = {}
        keys = set()
        for member in members:
            attribute, value = _tag(member)  # type: ignore[misc]
            keys.add(wire_name(attribute))
            by_value[value] = member
        if len(keys) != 1:
            raise TypeError(f"{tp}: members disagree on the discriminator field: {keys}")
        key = keys.pop()
        known = ", ".join(sorted(by_value))
        hooks = {member: converter.get_structure_hook(member) for member in members}

        def structure_union(data: Any, _: Any) -> Any:
            if data is None and nullable:
                return None
            if not isinstance(data, Mapping):
                raise TypeError(f"expected an object, got {_kind(data)}")
            member = by_value.get(data.get(key))  # type: ignore[arg-type]
            if member is None:
                raise _TagError(f"expected one of {known}, got {data.get(key)!r}", key)
            return hooks[member](data, member)

        return structure_union

    return factory


def _unstructure_factory(converter: OrjsonConverter) -> Any:
    def factory(cl: type[Any]) -> Callable[[Any], Any]:
        attrs.resolve_types(cl)
        overrides: dict[str, Any] = {}
        for a in attrs.fields(cl):
            wire = wire_name(a)
            hook = None
            if _is_datetime(a.type):
                hook = partial(_unstructure_datetime, field=f"{cl.__name__}.{wire}")
            overrides[a.name] = override(
                rename=wire, omit_if_default=a.default is None, unstruct_hook=hook
            )
        return make_dict_unstructure_fn(cl, converter, _cattrs_include_init_false=True, **overrides)

    return factory


def _is_optional(tp: Any) -> bool:
    if get_origin(tp) not in (Union, types.UnionType):
        return False
    args = get_args(tp)
    return len(args) == 2 and _NONE_TYPE in args and not _is_tagged_union(tp)


def _optional_factory(converter: OrjsonConverter) -> Any:
    # cattrs' own Optional handler looks the inner hook up again on every call; on pages of
    # 1,000 items with dozens of optional fields each, resolving it once halves the cost.
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        inner = next(a for a in get_args(tp) if a is not _NONE_TYPE)
        hook = converter.get_structure_hook(inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    return factory


def _make(*, forbid_extra_keys: bool, detailed: bool = True) -> OrjsonConverter:
    converter = make_converter(detailed_validation=detailed)
    for tp, fn in (
        (str, _structure_str),
        (int, _structure_int),
        (float, _structure_float),
        (bool, _structure_bool),
        (datetime, _structure_datetime),
    ):
        converter.register_structure_hook(tp, fn)
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_structure_hook_factory(
        attrs.has, _structure_factory(converter, forbid_extra_keys=forbid_extra_keys)
    )
    converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory(converter))
    converter.register_structure_hook_factory(_is_tagged_union, _union_factory(converter))
    converter.register_structure_hook_factory(_is_optional, _optional_factory(converter))
    return converter


#: Responses are structured by the fast converter; only when it fails is the data structured
#: again by the detailed one, whose error report gives the path of every problem.
_FAST = _make(forbid_extra_keys=False, detailed=False)
_LENIENT = _make(forbid_extra_keys=False)
_STRICT = _make(forbid_extra_keys=True)


# -- errors: one ResponseValidationError with a wire-name path --

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
        return None if isinstance(node, Mapping) else f"expected an object, got {_kind(node)}"
    if any(get_origin(o) is list for o in options):
        return None if isinstance(node, list) else f"expected an array, got {_kind(node)}"
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
    elif isinstance(exc, _TagError):
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


def _validation_error(exc: Exception, data: Any, cls: Any) -> ResponseValidationError:
    shape = _shape_error(cls, data)
    leaves = [((), shape)] if shape is not None else list(_leaves(exc, (), data))
    path, message = leaves[0] if leaves else ((), str(exc))
    if len(leaves) > 1:
        message += f" (and {len(leaves) - 1} more problem{'s' if len(leaves) > 2 else ''})"
    return ResponseValidationError(message, path=_format_path(path), model=_type_name(cls))


def _structure(converter: OrjsonConverter, data: Any, cls: Any) -> Any:
    try:
        return converter.structure(data, cls)
    except StructureHandlerNotFoundError:
        raise  # a type the models cannot contain: a bug, not a bad response
    except Exception as exc:
        raise _validation_error(exc, data, cls) from exc


# -- public (to the package) API --


@overload
def structure(data: Any, cls: type[T]) -> T: ...
@overload
def structure(data: Any, cls: Any) -> Any: ...
def structure(data: Any, cls: Any) -> Any:
    """Build ``cls`` (a model, ``list[Model]``, or a union alias) from decoded JSON.

    Unknown keys are ignored.

    Raises:
        ResponseValidationError: the data does not fit; ``path`` says where, in wire names.
    """
    try:
        return _FAST.structure(data, cls)
    except StructureHandlerNotFoundError:
        raise  # a type the models cannot contain: a bug, not a bad response
    except Exception as fast_error:
        _structure(_LENIENT, data, cls)  # raises with the path of the problem
        # The detailed converter accepted what the fast one refused: report the fast error.
        raise _validation_error(fast_error, data, cls) from fast_error


@overload
def structure_strict(data: Any, cls: type[T]) -> T: ...
@overload
def structure_strict(data: Any, cls: Any) -> Any: ...
def structure_strict(data: Any, cls: Any) -> Any:
    """Like :func:`structure`, but a key the model does not know is an error too."""
    return _structure(_STRICT, data, cls)


def unstructure(obj: Any) -> Any:
    """Turn a model (or a list or dict of them) into JSON-ready data, omitting unset fields.

    Raises:
        RequestValidationError: a datetime has no timezone.
    """
    return _LENIENT.unstructure(obj)


def dumps(obj: Any) -> bytes:
    """Serialize a model (or plain data) to JSON bytes; see :func:`unstructure`."""
    return orjson.dumps(_LENIENT.unstructure(obj))


def loads(data: bytes | str) -> Any:
    """Decode JSON bytes or text."""
    return orjson.loads(data)
