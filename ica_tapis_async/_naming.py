"""Wire names: how a model attribute is spelled in JSON.

An attribute ``snake_case`` is ``snakeCase`` on the wire, unless the field carries
``metadata={"wire": ...}`` (the few spec names the rule cannot produce, such as ``sourceURI``
or ``software-only``). The converter and its error reports both spell paths this way.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ("wire_name",)


def wire_name(attribute: attrs.Attribute[Any]) -> str:
    """The JSON key of a model attribute: its ``wire`` metadata, else camelCase of its name."""
    explicit = attribute.metadata.get("wire")
    if explicit is not None:
        return str(explicit)
    head, *rest = attribute.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
