"""The one converter between the attrs models and JSON data.

Built on ``cattrs.preconf.orjson.make_converter()``, never the global converter. Naming lives
beside it (``_naming.wire_name``), not in the models: an attribute ``snake_case`` is
``snakeCase`` on the wire, unless the field carries ``metadata={"wire": ...}`` (the few spec
names the rule cannot produce, such as ``sourceURI`` or ``software-only``).

- Structuring is lenient (unknown keys are ignored: servers add fields) and checks types:
  strings, numbers, booleans, timezone-aware ISO-8601 datetimes, and the shape of the data: a
  model needs a JSON object and a list a JSON array, even a model whose fields are all optional
  (a string or an HTML page is never an empty model, nor a string a list of characters). Every
  failure becomes a :class:`~ica_tapis_async.ResponseValidationError` whose ``path`` uses wire
  names, e.g. ``items[3].processing.status`` (``_validation`` builds that report).
  :func:`structure_strict` also refuses unknown keys; tests and the simulator use it so that
  fixtures cannot drift from the models. ``null`` is accepted wherever the spec allows it: a
  nullable property, a list whose items are nullable (``list[X | None]``), and an optional one.
- Unstructuring omits optional fields left at ``None``, writes every datetime in UTC as
  ``YYYY-MM-DDTHH:MM:SSZ`` (ICA's documented request form; microseconds only when set), and
  refuses naive datetimes with a :class:`~ica_tapis_async.RequestValidationError`.
- A model with an ``init=False`` string field (the discriminator, e.g. ``object_type``) sends
  that field, and a union of such models (``CwlAnalysisInput``) is structured to the member
  whose value matches; an unknown value is a validation error.

The hooks are generated once per class and cached by cattrs, so structuring a page of 1,000
items costs no more than the generated code itself.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, Union, get_args, get_origin, overload

import attrs
import orjson
from cattrs.cols import list_structure_factory
from cattrs.errors import StructureHandlerNotFoundError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.orjson import OrjsonConverter, make_converter

from ._errors import RequestValidationError
from ._naming import wire_name
from ._validation import TagError, kind, validation_error

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


def _tag(cl: type) -> tuple[attrs.Attribute[Any], str] | None:
    """The discriminator of a model: its ``init=False`` field with a string default."""
    for a in attrs.fields(cl):
        if not a.init and isinstance(a.default, str):
            return a, a.default
    return None


# -- primitives: check the JSON type instead of coercing ("false" must not become True) --


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {kind(value)}")


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {kind(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {kind(value)}")


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise TypeError(f"expected a boolean, got {kind(value)}")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 date-time string, got {kind(value)}")
    # RFC 3339 (the spec's date-time) allows a lower-case "z"; fromisoformat() does not.
    parsed = datetime.fromisoformat(value[:-1] + "Z" if value.endswith("z") else value)
    if parsed.tzinfo is None:
        raise ValueError(f"date-time {value!r} has no timezone")
    return parsed


def _unstructure_datetime(value: datetime, field: str | None = None) -> str:
    offset = value.utcoffset()
    if offset is None:
        raise RequestValidationError(
            "naive datetime; give it a timezone, e.g. tzinfo=datetime.UTC", field=field
        )
    # ICA reads request times as yyyy-MM-dd'T'HH:mm:ss'Z': always UTC, whatever the caller's zone.
    # isoformat() writes microseconds only when they are not zero.
    try:
        utc = value - offset
    except OverflowError:
        # Within a day of year 1 or 9999 there is no UTC form: keep the offset it came with.
        return value.isoformat()
    return utc.replace(tzinfo=None).isoformat() + "Z"


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

            def structure_object(data: Any, _: Any) -> Any:
                # cattrs reads fields with .get(): a string or a list would give a model of
                # Nones (every field is optional), so anything but an object is refused.
                if not isinstance(data, Mapping):
                    raise TypeError(f"expected an object, got {kind(data)}")
                return hook(data, cl)

            return structure_object
        key, value = wire_name(tag[0]), tag[1]

        def structure_tagged(data: Any, _: Any) -> Any:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected an object, got {kind(data)}")
            if data.get(key) != value:
                raise TagError(f"expected {value!r}, got {data.get(key)!r}", key)
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
                raise TypeError(f"expected an object, got {kind(data)}")
            member = by_value.get(data.get(key))  # type: ignore[arg-type]
            if member is None:
                raise TagError(f"expected one of {known}, got {data.get(key)!r}", key)
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


def _is_list(tp: Any) -> bool:
    return tp is list or get_origin(tp) is list


def _list_factory(converter: OrjsonConverter) -> Any:
    # cattrs turns any iterable into a list: a string into its characters, an object into
    # its keys. A JSON array is the only value a list field may hold.
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        hook = list_structure_factory(tp, converter)

        def structure_list(value: Any, _: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected an array, got {kind(value)}")
            return hook(value, tp)

        return structure_list

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
    converter.register_structure_hook_factory(_is_list, _list_factory(converter))
    return converter


#: Responses are structured by the fast converter; only when it fails is the data structured
#: again by the detailed one, whose error report gives the path of every problem.
_FAST = _make(forbid_extra_keys=False, detailed=False)
_LENIENT = _make(forbid_extra_keys=False)
_STRICT = _make(forbid_extra_keys=True)


def _structure(converter: OrjsonConverter, data: Any, cls: Any) -> Any:
    try:
        return converter.structure(data, cls)
    except StructureHandlerNotFoundError:
        raise  # a type the models cannot contain: a bug, not a bad response
    except Exception as exc:
        raise validation_error(exc, data, cls) from exc


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
        raise validation_error(fast_error, data, cls) from fast_error


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
