"""The models against the OpenAPI specs themselves, not the digests made from them.

For every model class: the same properties, the same required ones, the same types, and every
``null`` the spec allows (a nullable property, a property whose schema is nullable, a list whose
items may be null) allowed by the annotation. A digest that drops a rule cannot hide it from
these tests.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Union, get_args, get_origin

import attrs
import pytest

from ica_tapis_async import models
from ica_tapis_async._converter import wire_name

from ._specs import ICA_SPEC, TAPIS_SPEC, load_spec, specs_or_skip

_NONE = type(None)
_PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def _model_classes() -> list[type[Any]]:
    return [
        cls
        for name in models.__all__
        if isinstance(cls := getattr(models, name), type) and attrs.has(cls)
    ]


def _spec_of(name: str) -> dict[str, Any]:
    for spec_name in (ICA_SPEC, TAPIS_SPEC):
        spec = load_spec(spec_name)
        if name in spec["components"]["schemas"]:
            return spec
    raise AssertionError(f"{name} is in neither spec")


# -- both sides as (form, nullable): form is e.g. "str", "list[str?]", "Job", "A|B" --


def _yaml_form(components: dict[str, Any], schema: dict[str, Any]) -> tuple[str, bool]:
    nullable = schema.get("nullable") is True
    if "$ref" in schema:
        target_name = schema["$ref"].rsplit("/", 1)[1]
        target = components[target_name]
        nullable = nullable or target.get("nullable") is True
        if "oneOf" in target:
            mapping = target["discriminator"]["mapping"].values()
            members = sorted(r.rsplit("/", 1)[1] for r in mapping)
            return "|".join(members), nullable
        if target.get("type") == "object" and "properties" in target:
            return target_name, nullable
        form, _ = _yaml_form(components, {k: v for k, v in target.items() if k != "nullable"})
        return form, nullable
    kind = schema.get("type")
    if kind == "array":
        item, item_nullable = _yaml_form(components, schema["items"])
        return f"list[{item}{'?' if item_nullable else ''}]", nullable
    if kind == "string" and schema.get("format") == "date-time":
        return "datetime", nullable
    if kind == "object":
        return "dict", nullable
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind], nullable
    raise AssertionError(f"no form for {schema!r}")


def _python_form(tp: Any) -> tuple[str, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        members = [m for m in get_args(tp) if m is not _NONE]
        nullable = len(members) < len(get_args(tp))
        if len(members) == 1:
            return _python_form(members[0])[0], nullable
        return "|".join(sorted(m.__name__ for m in members)), nullable
    if get_origin(tp) is list:
        item, item_nullable = _python_form(get_args(tp)[0])
        return f"list[{item}{'?' if item_nullable else ''}]", False
    if get_origin(tp) is dict:
        return "dict", False
    if tp is datetime:
        return "datetime", False
    if isinstance(tp, type) and attrs.has(tp):
        return tp.__name__, False
    if tp in (str, int, float, bool):
        return tp.__name__, False
    raise AssertionError(f"no form for {tp!r}")


@pytest.mark.parametrize("cls", _model_classes(), ids=lambda c: c.__name__)
def test_model_matches_the_openapi_schema(cls: type[Any]) -> None:
    """Properties, requiredness, types and nullability are the spec's, field by field."""
    spec = _spec_of(cls.__name__)
    components = spec["components"]["schemas"]
    schema = components[cls.__name__]
    attrs.resolve_types(cls)
    fields = {wire_name(a): a for a in attrs.fields(cls)}
    assert set(fields) == set(schema.get("properties", {})), cls.__name__
    required = {w for w, a in fields.items() if a.default is attrs.NOTHING or not a.init}
    assert required == set(schema.get("required", ())), cls.__name__
    for wire, prop in schema["properties"].items():
        a = fields[wire]
        want, want_nullable = _yaml_form(components, prop)
        got, got_nullable = _python_form(a.type)
        where = f"{cls.__name__}.{wire}"
        assert got == want, where
        if wire in required:
            assert got_nullable == want_nullable, where
        else:
            # Optional fields default to None: absent and null both read as "not set".
            assert got_nullable, where


def test_every_nullable_schema_in_reach_is_nullable_where_used() -> None:
    """The spec rule the old digest dropped: a ``$ref`` to a nullable schema may be null.

    ``Job`` is ``nullable: true`` in the ICA spec, so the required ``job`` of a linking batch
    may be ``null``, and the model says so.
    """
    components = load_spec(ICA_SPEC)["components"]["schemas"]
    assert components["Job"].get("nullable") is True
    attrs.resolve_types(models.ProjectDataLinkingBatch)
    job = attrs.fields(models.ProjectDataLinkingBatch).job
    assert _python_form(job.type) == ("Job", True)
    tags = attrs.fields(models.DataTag).user_tags
    assert _python_form(tags.type) == ("list[str?]", True)


def _generator() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tools" / "gen_models.py"
    spec = importlib.util.spec_from_file_location("gen_models", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def test_generated_models_are_up_to_date() -> None:
    """What ``tools/gen_models.py --check`` checks: the committed models are the generated ones."""
    generator = _generator()
    for dest, text in generator.generate(specs_or_skip()).items():
        assert dest.read_text(encoding="utf-8") == text, f"{dest.name}: run tools/gen_models.py"


def test_generator_reads_both_nullabilities() -> None:
    """``nullable`` and ``items-nullable`` in a digest line become ``| None`` where they belong."""
    generator = _generator()
    field = generator.Field("userTags", False, "list[string]", nullable=True, items_nullable=True)
    assert generator.python_type(field, {}) == "list[str | None]"
    schema = generator.Schema("DataTag", [field])
    assert generator.render_field(schema, field, {}) == (
        "user_tags: list[str | None] | None = attrs.field(default=None, kw_only=True)"
    )
