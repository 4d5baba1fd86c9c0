"""The README's Python: the quick example runs as written; every snippet at least compiles."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    rest = README[README.index(title + "\n") + len(title) + 1 :]
    end = re.search(r"^## ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def test_quick_example_runs_as_written(tmp_path: Path) -> None:
    """Copied into a file and run from an empty directory, it links, lists and transfers."""
    (block,) = re.findall(r"```python\n(.*?)```", _section("## Quick example"), re.DOTALL)
    script = tmp_path / "quick.py"
    script.write_text(block, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # The items' statuses depend on how far the batch got by then (INITIALISED, WAITING_...).
    assert [line.split()[0] for line in lines[:2]] == ["fil.1", "fol.2"]
    assert lines[2] == "{'LINKED': 5000} 0"
    assert (tmp_path / "link.sqlite").exists()


def test_every_python_snippet_compiles() -> None:
    """No snippet has a syntax error (top-level ``await`` allowed: they are fragments)."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert len(blocks) >= 8
    for block in blocks:
        compile(block, "<README>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
