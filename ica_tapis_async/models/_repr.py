"""How the generated models print fields that hold a credential."""

from __future__ import annotations

__all__ = ("mask",)


def mask(value: object) -> str:
    """The repr of a secret field: whether it is set, never its value.

    >>> mask("eyJhbGciOi...")
    "'********'"
    """
    return "None" if value is None else "'********'"
