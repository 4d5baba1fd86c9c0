"""The error every input reader raises: which file, which line, which field, what is wrong."""

from __future__ import annotations

__all__ = ("InputError",)


class InputError(Exception):
    """A bad input file: which file, which line, which field, and what is wrong (exit code 2)."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str) -> None:
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        self.path = path
        self.line = line
        self.field = field
        self.message = message
