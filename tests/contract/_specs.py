"""The vendors' OpenAPI specs for tests: where they are, and their schemas as JSON Schema.

The specs live in ``shared/specs`` beside the repository (``../shared/specs``), or beside an
ancestor of it (a git worktree sits deeper than the main clone), or wherever
``$ICA_TAPIS_SPECS`` says. Tests that need them skip when they are absent, so a bare clone
still passes.

:func:`json_schema` turns an OpenAPI 3.0 schema into a self-contained JSON Schema (draft 7):
``$ref`` inlined, ``nullable: true`` as a ``null`` alternative, a ``oneOf`` with a discriminator
as one branch per mapped value (the branch fixes the discriminator to its value, which is what
the discriminator means), integer formats as bounds, and the OpenAPI-only keywords dropped.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

__all__ = (
    "ICA_SPEC",
    "SPECS_ENV",
    "TAPIS_SPEC",
    "find_specs",
    "json_schema",
    "load_spec",
    "specs_or_skip",
)

SPECS_ENV = "ICA_TAPIS_SPECS"
ICA_SPEC = "ica-openapi.yaml"
TAPIS_SPEC = "tapis-files-openapi.yml"
_REPO = Path(__file__).resolve().parents[2]

#: Keywords that describe, not constrain, or that JSON Schema does not know.
_DROPPED = frozenset(
    {"description", "example", "x-faker", "deprecated", "discriminator", "nullable", "xml"}
)
_INT_BOUNDS = {"int32": 2**31 - 1, "int64": 2**63 - 1}


def find_specs() -> Path | None:
    """The specs folder, or ``None`` when this checkout has none beside it."""
    explicit = os.environ.get(SPECS_ENV)
    candidates = [Path(explicit)] if explicit else []
    candidates += [parent / "shared" / "specs" for parent in _REPO.parents]
    return next((c for c in candidates if (c / ICA_SPEC).is_file()), None)


def specs_or_skip() -> Path:
    """The specs folder; the calling test is skipped when there is none."""
    found = find_specs()
    if found is None:
        pytest.skip(f"the vendor specs are not available (../shared/specs or ${SPECS_ENV})")
    return found


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    """One spec, parsed once per test session (the ICA one is 700 kB of YAML)."""
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = (specs_or_skip() / name).read_text(encoding="utf-8")
    spec: dict[str, Any] = yaml.load(text, Loader=loader)
    return spec


def json_schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """Component schema ``name`` of ``spec`` as a self-contained JSON Schema."""
    components: dict[str, Any] = spec["components"]["schemas"]
    converted = _convert(components, components[name], (name,))
    return {"$schema": "http://json-schema.org/draft-07/schema#", **converted}


def _ref_name(ref: str) -> str:
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ValueError(f"only local component references are supported, not {ref!r}")
    return ref[len(prefix) :]


def _convert(components: dict[str, Any], node: Any, trail: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = _ref_name(node["$ref"])
        if target in trail:
            raise ValueError(f"recursive schema: {' -> '.join((*trail, target))}")
        return _convert(components, components[target], (*trail, target))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {p: _convert(components, s, trail) for p, s in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _convert(components, value, trail)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [_convert(components, s, trail) for s in value]
        elif key == "format" and value in _INT_BOUNDS:
            out.setdefault("minimum", -_INT_BOUNDS[value] - 1)
            out.setdefault("maximum", _INT_BOUNDS[value])
        else:
            out[key] = value
    if "discriminator" in node and "oneOf" in node:
        out["oneOf"] = _discriminated(components, node["discriminator"], trail)
        out.pop("type", None)
    if node.get("nullable") is True:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def _discriminated(
    components: dict[str, Any], discriminator: dict[str, Any], trail: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One branch per mapped value, with the discriminator property fixed to that value."""
    key = discriminator["propertyName"]
    branches = []
    for value, ref in discriminator["mapping"].items():
        branch = _convert(components, {"$ref": ref}, trail)
        branch = dict(branch)
        branch["properties"] = {**branch.get("properties", {}), key: {"const": value}}
        branch["required"] = sorted({*branch.get("required", ()), key})
        branches.append(branch)
    return branches
