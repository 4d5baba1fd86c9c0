"""What batch create requests carry: the data ids an analysis reads, its tag lists, and the
pipeline id rule (ICA's pipeline ids are UUIDs)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._problems import ProblemError

__all__ = ("check_pipeline_ids", "input_data_ids", "request_tags")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def input_data_ids(item: dict[str, Any]) -> Iterable[str]:
    """Every data id an analysis item reads (structured, JSON and input-form inputs); the
    spec lets mount and data-value lists hold nulls, which name nothing."""
    inputs = item.get("analysisInput") or {}
    for group in inputs.get("inputs") or ():
        yield from group.get("dataIds") or ()
        yield from (m["dataId"] for m in group.get("mounts") or () if m is not None)
    yield from inputs.get("dataIds") or ()
    yield from (m["dataId"] for m in inputs.get("mounts") or () if m is not None)
    form = item.get("inputFormValues") or {}
    fields = list(form.get("fields") or ())
    for group in form.get("groups") or ():
        for values in group.get("values") or ():
            fields.extend(values.get("values") or ())
    for field in fields:
        yield from (d["dataId"] for d in field.get("dataValues") or () if d is not None)


def request_tags(tags: dict[str, Any], name: str) -> tuple[str, ...]:
    """A tag list without the nulls the request may hold (the answer's lists hold none)."""
    return tuple(tag for tag in tags.get(name) or () if tag is not None)


def check_pipeline_ids(body: dict[str, Any]) -> None:
    """Refuse pipeline ids that are not UUIDs, as ICA does (its pipeline ids are UUIDs)."""
    bad: dict[str, str] = {}
    for field in ("cwlItems", "nextflowItems", "nextflowJsonItems"):
        for i, item in enumerate(body.get(field) or ()):
            if not _UUID.fullmatch(item["pipelineId"]):
                bad[f"{field}[{i}].pipelineId"] = "must be a valid uuid"
    if bad:
        raise ProblemError(
            400,
            "The request is not valid: " + "; ".join(f"{k} {v}" for k, v in bad.items()),
            parameters=bad,
        )
