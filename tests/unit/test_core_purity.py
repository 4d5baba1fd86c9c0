"""``_core`` stays sans-I/O: it imports neither aiohttp, anyio, the models nor the converter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ica_tapis_async

CORE = Path(ica_tapis_async.__file__).parent / "_core"
FORBIDDEN = ("aiohttp", "anyio", "asyncio", "models", "_converter", "_session", "_transport")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_nothing_with_io_or_models(path: Path) -> None:
    """No import in the module (even inside a function) names an I/O library or the models."""
    bad = [name for name in _imports(path) if any(part in FORBIDDEN for part in name.split("."))]
    assert bad == []
