"""The console script's entry point without the CLI extra."""

from __future__ import annotations

import importlib.util

import pytest

from ica_tapis_async import cli


def test_missing_cli_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without rich installed the command says which extra to install and exits 2."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rich" else real(name, *a)
    )
    assert cli.main(["demo"]) == 2
    assert "pip install 'ica_tapis_async[cli]'" in capsys.readouterr().err
