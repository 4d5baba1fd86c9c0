"""Unknown fields: properties no spec names, added to answers as growing services do.

The real services add fields without notice (API-NOTES A4, B7: Tapis' ``id``/``finalMessage``,
ICA's Problem ``method``), so a client must ignore what it does not know. With
``unknown_fields`` on, every JSON answer gets at least one such property at its top level and
about a third of its nested objects get one too. The choice is seeded by the request (method,
path, status), so the same resource grows the same fields on every read and an ETag stays true.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import orjson
from aiohttp import web

__all__ = ("add_unknown_fields", "sprinkle")

# names that read like real additions; none is a property of any schema we serve
_NAMES = (
    "regionCode",
    "auditTrail",
    "revision",
    "shardKey",
    "traceContext",
    "labels",
    "costCenter",
    "retentionPolicy",
)
_NESTED_RATE = 0.3
_JSON_TYPES = ("application/json", "application/problem+json")


def _value(rng: random.Random) -> Any:
    kind = rng.randrange(6)
    if kind == 0:
        return f"v{rng.randrange(10_000)}"
    if kind == 1:
        return rng.randrange(-5, 1_000_000)
    if kind == 2:
        return None
    if kind == 3:
        return {"nested": rng.random() < 0.5, "items": [rng.randrange(10)]}
    if kind == 4:
        return [f"x{rng.randrange(100)}", None]
    return rng.random() < 0.5


def _add_one(obj: dict[str, Any], rng: random.Random) -> None:
    name = rng.choice(_NAMES)
    if name not in obj:
        obj[name] = _value(rng)


# maps, not objects: their keys are data (a Problem's offending fields), so nothing is added
_MAPS = frozenset({"parameters"})


def sprinkle(doc: Any, rng: random.Random, *, top: bool = True) -> None:
    """Add unknown properties to ``doc`` in place (always one on a top-level object)."""
    if isinstance(doc, dict):
        for key, value in list(doc.items()):
            if key not in _MAPS:
                sprinkle(value, rng, top=False)
        if top or rng.random() < _NESTED_RATE:
            _add_one(doc, rng)
    elif isinstance(doc, list):
        for value in doc:
            sprinkle(value, rng, top=False)


def add_unknown_fields(request: web.Request, response: web.Response, seed: int) -> None:
    """Rewrite a JSON ``response`` body with unknown properties added (other bodies untouched)."""
    ctype = response.content_type
    if not isinstance(response.body, bytes) or not response.body:
        return
    if ctype not in _JSON_TYPES and not (
        ctype.startswith("application/vnd.illumina.") and ctype.endswith("+json")
    ):
        return
    doc = orjson.loads(response.body)
    digest = hashlib.blake2b(
        f"{seed}:{request.method}:{request.path}:{response.status}".encode(), digest_size=8
    ).digest()
    sprinkle(doc, random.Random(int.from_bytes(digest, "big")))
    response.body = orjson.dumps(doc)
