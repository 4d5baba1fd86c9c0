"""Hypothesis strategies that draw documents valid against a JSON Schema (as ``json_schema``
in ``tests/contract/_specs.py`` writes them).

hypothesis-jsonschema handles any schema but needs minutes per hundred documents for the big
ICA item pages; the specs use a small subset of JSON Schema, so we walk it ourselves. Every
document is also checked with ``jsonschema`` by the tests, so a mistake here cannot pass for
a bug in the client. What gets drawn, on purpose: nulls where allowed, optional properties
left out, unknown extra properties, empty lists, long strings, datetimes with any offset,
fraction of a second and ``T``/``t``, ``Z``/``z`` spelling.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

__all__ = ("DATETIMES", "JSON_VALUES", "from_schema")

#: Any JSON value, kept small: what an unknown extra property may hold.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)  # orjson refuses wider integers when writing
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=4,
)

_OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


@st.composite
def _datetime_text(draw: st.DrawFn) -> str:
    """An RFC 3339 date-time in any of its spellings."""
    when = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    minutes = draw(st.sampled_from([0, 0, 120, -330]) | _OFFSETS)
    digits = draw(st.sampled_from([0, 0, 3, 6]) | st.integers(1, 9))
    text = f"{when.year:04d}-{when:%m-%d}{draw(st.sampled_from('Tt'))}{when:%H:%M:%S}"
    if digits:
        text += "." + f"{when.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    if minutes == 0 and draw(st.booleans()):
        return text + draw(st.sampled_from("Zz"))
    sign, value = ("-", -minutes) if minutes < 0 else ("+", minutes)
    return f"{text}{sign}{value // 60:02d}:{value % 60:02d}"


DATETIMES = _datetime_text()

#: Aware datetimes in any zone, for request models (also the extremes of the calendar).
AWARE_DATETIMES: st.SearchStrategy[datetime] = st.builds(
    lambda when, minutes: when.replace(
        tzinfo=UTC if not minutes else timezone(timedelta(minutes=minutes))
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    _OFFSETS,
)

_URIS = st.from_regex(
    r"\A(https?://[a-z]{1,8}(\.[a-z]{2,5}){0,2}(/[a-zA-Z0-9_.-]{0,8}){0,3}|about:blank)\Z"
)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = schema.get("format")
    if fmt == "date-time":
        return DATETIMES
    if fmt == "uuid":
        return st.uuids().map(str)
    if fmt == "uri":
        return _URIS
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" in schema:
        pattern = st.from_regex(schema["pattern"], fullmatch=True)
        return pattern.filter(lambda s: low <= len(s) <= (high if high is not None else len(s)))
    short = st.text(min_size=low, max_size=min(high, 12) if high is not None else 12)
    long_max = high if high is not None else 3000
    if long_max < 200:
        return short
    # Long strings are slow to draw: one string in five.
    return st.one_of(short, short, short, short, st.text(min_size=max(low, 200), max_size=long_max))


def _number(schema: dict[str, Any], *, integer: bool) -> st.SearchStrategy[Any]:
    # Integers without a format still fit 64 bits: JSON libraries (orjson too) stop there.
    low, high = schema.get("minimum", -(2**63)), schema.get("maximum", 2**63 - 1)
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + (1 if integer else 1e-9)
    ints = st.integers(
        min_value=None if low is None else int(-(-low // 1)),
        max_value=None if high is None else int(high // 1),
    )
    if integer:
        return ints
    floats = st.floats(
        min_value=schema.get("minimum"),
        max_value=schema.get("maximum"),
        allow_nan=False,
        allow_infinity=False,
    )
    return ints | floats


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if not properties:
        values = JSON_VALUES if extra is True else from_schema(extra)
        return st.dictionaries(st.text(max_size=8), values, max_size=3)
    required = set(schema.get("required", ()))
    fields = {
        name: from_schema(sub)
        if name in required
        else st.none() | st.just(_OMIT) | from_schema(sub)
        for name, sub in properties.items()
    }
    unknown = st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda k: k not in properties),
        JSON_VALUES,
        max_size=2,
    )

    def build(drawn: dict[str, Any], noise: dict[str, Any]) -> dict[str, Any]:
        doc = {k: v for k, v in drawn.items() if v is not _OMIT}
        # An optional property that is not nullable is left out instead of being null.
        for name, value in list(doc.items()):
            if value is None and name not in required and not _nullable(properties[name]):
                del doc[name]
        return doc | noise if extra is not False else doc

    return st.builds(build, st.fixed_dictionaries(fields), unknown)


_OMIT = object()


def _nullable(schema: dict[str, Any]) -> bool:
    return any(s.get("type") == "null" for s in schema.get("anyOf", ()))


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Documents valid against ``schema`` (the subset of JSON Schema the vendor specs use)."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s) for s in schema[key]])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "object" or "properties" in schema:
        return _object(schema)
    if kind == "array":
        unique = {"unique_by": repr} if schema.get("uniqueItems") else {}
        return st.lists(
            from_schema(schema.get("items", {})),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
            **unique,  # type: ignore[arg-type]
        )
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return st.booleans()
    if not schema or set(schema) <= {"$schema"}:
        return JSON_VALUES
    raise ValueError(f"no strategy for schema {schema!r}")
