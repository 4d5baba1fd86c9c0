"""The README's operator's day runs as written: dry run, run, resume, runs, status, verify,
export, retry, against a simulator served in another process."""

from __future__ import annotations

import csv
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from ica_tapis_async.cli._parser import build_parser
from ica_tapis_async.cli._usage import UsageError

from .shell import environment

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _day_block() -> str:
    section = README[README.index("### An operator's day\n") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match
    return match.group(1)


def _known(line: str) -> bool:
    """Whether the parser takes ``line`` (a README line naming a flag or command that does
    not exist fails here, with the line, before anything runs)."""
    words = shlex.split(line, comments=True)
    if not words or words[0] != "ica-tapis-async" or words[1] == "simulator":
        return True
    argv = words[1 : words.index(">")] if ">" in words else words[1:]
    try:
        build_parser().parse_args(argv)
    except UsageError:
        return False
    return True


def test_the_operators_day_runs_as_written(tmp_path: Path) -> None:
    """Every line exits 0 (bash -e); the journal then holds the run, the CSV every item."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    lines = _day_block().splitlines()
    assert [line for line in lines if not _known(line)] == []
    script = "\n".join(lines).replace("8080", port)
    script = script.replace("examples/data/ids.txt", str(ROOT / "examples" / "data" / "ids.txt"))
    env = environment()
    env["PATH"] = str(Path(sys.executable).parent) + ":" + env["PATH"]
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    text = (tmp_path / "day.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    listing = (ROOT / "examples" / "data" / "ids.txt").read_text(encoding="utf-8")
    ids = [line for line in listing.splitlines() if line.startswith(("fil.", "fol."))]
    assert sorted(r["key"] for r in rows) == sorted(ids)
    assert {r["status"] for r in rows} == {"LINKED"}
    assert (tmp_path / "failed.txt").read_text() == ""
    assert "link" in done.stdout  # runs and status printed the run


def test_the_nightly_command_still_resumes_after_the_retry_recipe(tmp_path: Path) -> None:
    """A night with a failure: the README's retry runs, then the scheduler runs the night's
    command again ("resuming is always the same command again"). That command must find its
    own run (its failures re-reported: exit 1), not the retry run (it used to be refused, exit
    2: "recorded with other input")."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    listing = (ROOT / "examples" / "data" / "ids.txt").read_text(encoding="utf-8")
    ids = tmp_path / "night.txt"
    ids.write_text(listing + "fil.missing-1\n", encoding="utf-8")
    lines = _day_block().replace("8080", port).replace("examples/data/ids.txt", str(ids))
    night = next(line for line in lines.splitlines() if "--max-runtime" in line)
    body = [line for line in lines.splitlines() if line and not line.startswith("kill")]
    script = "\n".join([*body, night + "; echo AGAIN=$?", "kill $!"])
    env = environment()
    env["PATH"] = str(Path(sys.executable).parent) + ":" + env["PATH"]
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert (tmp_path / "failed.txt").read_text(encoding="utf-8") == "fil.missing-1\n"
    assert "AGAIN=1" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
