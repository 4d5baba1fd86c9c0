"""Transfer pairs: ``source destination`` per line (whitespace or tab separated)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ...models import ReqTransferElement
from ._errors import InputError
from ._source import read_text

__all__ = ("chunked", "read_transfer_pairs")

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://\S+$")


def read_transfer_pairs(path: str) -> list[ReqTransferElement]:
    """One transfer element per ``source destination`` line.

    Raises:
        InputError: an unreadable file, a line without two URIs, or no pairs.
    """
    name, text = read_text(path)
    elements: list[ReqTransferElement] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise InputError(
                name, number, "destinationURI", "missing: expected 'source destination'"
            )
        if len(parts) > 2:
            raise InputError(
                name, number, None, f"{len(parts)} fields; expected 'source destination'"
            )
        for field, uri in zip(("sourceURI", "destinationURI"), parts, strict=True):
            if not _URI.match(uri):
                raise InputError(
                    name, number, field, f"{uri!r} is not a URI like tapis://system/path"
                )
        elements.append(ReqTransferElement(source_uri=parts[0], destination_uri=parts[1]))
    if not elements:
        raise InputError(name, None, None, "no transfer pairs found")
    return elements


def chunked(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` in lists of ``size``."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
