"""The README's "check before, verify after" commands work as written against a served simulator."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from .helpers import Cli
from .served import served_simulator

ROOT = Path(__file__).resolve().parents[2]


def _block() -> list[list[str]]:
    """The commands of the first sh block after the "Check before, verify after" paragraph."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Command line\n") :]
    section = section[: section.index("\n## ", 1)]
    after = section[section.index("Check before, verify after.") :]
    block = re.search(r"```sh\n(.*?)```", after, re.DOTALL)
    assert block is not None
    return [shlex.split(line)[1:] for line in block.group(1).splitlines() if line.strip()]


def test_dry_run_run_and_verify_as_written(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the README's paths are relative to a checkout
    dry, link, verify = _block()
    assert "--dry-run" in dry
    assert verify[0] == "verify"
    journal = tmp_path / "link.sqlite"
    with served_simulator() as served:
        port = served.ica_url.split(":")[2].split("/")[0]

        def local(argv: list[str]) -> list[str]:
            words = [w.replace(":8080/", f":{port}/") for w in argv]
            return [str(journal) if w == "link.sqlite" else w for w in words]

        planned = cli(*local(dry))
        assert planned.code == 0, planned.err
        assert "Nothing was created" in planned.out
        assert not journal.exists()
        ran = cli(*local(link), "-q")
        assert ran.code == 0, ran.err
        checked = cli(*local(verify))
    assert checked.code == 0, checked.out + checked.err
    assert "server and journal agree on 200 items" in checked.out
