"""The console script without the ``cli`` extra: help, version and simulator still work."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ica_tapis_async.cli import install_command

from .shell import finish, start


def test_without_rich(tmp_path: Path) -> None:
    """--help, --version, simulator work; a command with bars names the exact pip command."""
    # A sitecustomize that makes `import rich` fail, as in an install without the extra.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nsys.modules['rich'] = None\n", encoding="utf-8"
    )
    env = {"PYTHONPATH": str(tmp_path)}
    runs = {
        name: start(*argv, env=env)
        for name, argv in {
            "help": ["--help"],
            "version": ["--version"],
            "simulator": ["simulator", "--port", "99999"],
            "demo": ["demo", "--fast"],
        }.items()
    }
    results = {name: finish(process) for name, process in runs.items()}
    assert results["help"].code == 0
    assert results["help"].out.startswith("usage: ica-tapis-async")
    assert results["version"].code == 0
    assert results["version"].out.startswith("ica-tapis-async ")
    # The simulator ran far enough to check its flags: it needs no extra.
    assert (results["simulator"].code, results["simulator"].err_lines) == (
        2,
        ["error: --port 99999: out of range; use 0 (any free port) to 65535"],
    )
    assert (results["demo"].code, results["demo"].err_lines) == (
        2,
        [
            "ica-tapis-async: this command needs the 'cli' extra (progress bars, tables); "
            f"install it with: {install_command()}"
        ],
    )


def test_install_command_fits_this_installation() -> None:
    """The test environment is an editable install of this checkout: the command says so."""
    checkout = Path(__file__).resolve().parents[2]
    assert shlex.split(install_command()) == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-e",
        f"{checkout}[cli]",
    ]
