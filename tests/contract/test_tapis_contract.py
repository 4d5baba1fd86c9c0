"""Tapis contract: our request bodies validate against the spec that tapipy ships.

tapipy (the vendor's client) carries ``resources/openapi_v3-files.yml``; it is a test-only
dependency and the schemas are checked with jsonschema.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

import ica_tapis_async as ita
from ica_tapis_async._converter import structure, unstructure

from ..resources.helpers import TAPIS, envelope, task
from ..unit.fakes import FakeTransport

pytest.importorskip("tapipy")


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    """The component schemas of tapipy's Files spec."""
    text = resources.files("tapipy").joinpath("resources/openapi_v3-files.yml").read_text()
    spec: dict[str, Any] = yaml.safe_load(text)
    return dict(spec["components"]["schemas"])


def as_json_schema(name: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """A self-contained JSON Schema for component ``name`` (OpenAPI refs moved under $defs)."""

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: fix(v) for k, v in node.items() if k not in ("nullable", "example")}
            if "$ref" in out:
                out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return {"$ref": f"#/$defs/{name}", "$defs": fix(schemas)}


def bodies() -> list[ita.ReqTransfer]:
    """Request bodies we send, from minimal to every field."""
    return [
        ita.ReqTransfer([ita.ReqTransferElement("tapis://a/x", "tapis://b/x")]),
        ita.ReqTransfer(
            [
                ita.ReqTransferElement(
                    "tapis://a/dir",
                    "tapis://b/dir",
                    optional=True,
                    transfer_type="SERVICE_MOVE_DIRECTORY_CONTENTS",
                    src_shared_ctx="ana",
                    dest_shared_ctx="ben",
                ),
                ita.ReqTransferElement("https://h/f.bam", "tapis://b/f.bam"),
            ],
            tag="run-1",
        ),
    ]


@pytest.mark.parametrize("body", bodies())
def test_request_bodies_validate(body: ita.ReqTransfer, schemas: dict[str, Any]) -> None:
    """Every ReqTransfer we build validates against tapipy's spec."""
    jsonschema.validate(unstructure(body), as_json_schema("ReqTransfer", schemas))


def test_invalid_body_is_caught_by_the_check(schemas: dict[str, Any]) -> None:
    """The check is real: a body without elements fails it."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tag": "x"}, as_json_schema("ReqTransfer", schemas))


async def test_body_on_the_wire_validates(schemas: dict[str, Any]) -> None:
    """The bytes tapis.transfers.create sends validate too."""
    http = FakeTransport()
    async with ita.TapisClient(TAPIS, transport=http, token="t") as tapis:
        http.post(f"{TAPIS}/v3/files/transfers", payload=envelope(task()))
        await tapis.transfers.create(bodies()[1].elements, tag="run-1")
        [[call]] = list(http.requests.values())
    jsonschema.validate(orjson.loads(call.kwargs["data"]), as_json_schema("ReqTransfer", schemas))


@pytest.mark.parametrize("name", ["TransferTaskResponse", "TransferTaskListResponse"])
def test_spec_valid_responses_structure(name: str, schemas: dict[str, Any]) -> None:
    """Envelopes valid under tapipy's spec structure into our models."""
    one = task(status="COMPLETED")
    one["parentTasks"] = [{"uuid": one["uuid"], "status": "COMPLETED", "children": []}]
    payload = envelope([one] if name == "TransferTaskListResponse" else one)
    jsonschema.validate(payload, as_json_schema(name, schemas))
    model = structure(payload, getattr(ita, name))
    assert unstructure(model)["result"] == payload["result"]
