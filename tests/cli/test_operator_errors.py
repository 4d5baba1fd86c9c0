"""An operator's mistake is one line naming the flag or file, exit code 2, never a traceback.

Each case runs the installed console script; the cases run side by side to keep the suite fast.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .shell import Run, finish, run, start

SERVER = ["--base-url", "http://127.0.0.1:9/ica/rest", "--api-key", "k", "--project", "P"]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _all(cases: dict[str, list[str]]) -> dict[str, Run]:
    """Run every case's argv at once; their results by name."""
    started: dict[str, subprocess.Popen[str]] = {name: start(*argv) for name, argv in cases.items()}
    return {name: finish(process) for name, process in started.items()}


def test_mistakes_are_one_line_and_exit_2(tmp_path: Path, busy_port: int) -> None:
    """Journal, simulator address, knob, date, tag and abort mistakes: one exact line each."""
    ids = tmp_path / "ids.txt"
    ids.write_text("fil.a\n", encoding="utf-8")
    missing = tmp_path / "no-such-dir" / "j.sqlite"
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a journal\n" * 50, encoding="utf-8")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE patients (name TEXT)")
    db.close()
    cases = {
        "missing dir": ["link", str(ids), "--journal", str(missing), *SERVER],
        "text file": ["link", str(ids), "--journal", str(text), *SERVER],
        "other sqlite": ["link", str(ids), "--journal", str(other), *SERVER],
        "journal dir": ["link", str(ids), "--journal", str(tmp_path), *SERVER],
        "journal proc": ["link", str(ids), "--journal", "/proc/j.sqlite", *SERVER],
        "port in use": ["simulator", "--port", str(busy_port)],
        "port range": ["simulator", "--port", "70000"],
        "port text": ["simulator", "--port", "eighty"],
        "bad host": ["simulator", "--host", "no-such-host.invalid"],
        "p-503": ["simulator", "--p-503", "1.5"],
        "sim journal": ["link", str(ids), "--simulator", "--journal", str(tmp_path / "j")],
        "minus days": ["update", str(ids), "--archive-at", "-5d", "--simulator"],
        "past date": ["update", str(ids), "--delete-at", "2001-02-03", "--simulator"],
        "empty tag": ["update", str(ids), "--add-tag", " ", "--simulator"],
        "abort nothing": ["transfers", "abort", "--simulator"],
        "no command": [],
    }
    results = _all(cases)
    now = datetime.now(UTC)
    expected = {
        "missing dir": f"error: --journal {missing}: directory {missing.parent} does not exist",
        "text file": f"error: --journal {text}: not a journal (not an SQLite file)",
        "other sqlite": f"error: --journal {other}: an SQLite file, but not a journal of this tool",
        "journal dir": f"error: --journal {tmp_path}: is a directory; give a file name",
        "journal proc": "error: --journal /proc/j.sqlite: unable to open database file",
        "port in use": f"error: --port {busy_port}: already in use on 127.0.0.1; pick another "
        "or --port 0 for any free one",
        "port range": "error: --port 70000: out of range; use 0 (any free port) to 65535",
        "port text": "error: argument --port: invalid int value: 'eighty' "
        "(see ica-tapis-async simulator --help)",
        "bad host": "error: --host no-such-host.invalid: not a name or address this machine "
        "can resolve",
        "p-503": "error: --p-503: must be within [0, 1], got 1.5",
        "sim journal": "error: --simulator and --journal: a run against the in-process "
        "simulator cannot be resumed (the simulator's state ends with the process). To try "
        "resuming, serve one with 'ica-tapis-async simulator --port 8080' and pass --base-url "
        "http://127.0.0.1:8080/ica/rest --api-key any instead of --simulator",
        "minus days": "error: --archive-at: '-5d': relative times count forward from now, "
        "e.g. +5d; a past time cannot be set",
        "past date": "error: --delete-at: '2001-02-03' is in the past (now is {now}); archive "
        "and delete times must be in the future",
        "empty tag": "error: --add-tag: empty tag",
        "abort nothing": "error: transfers abort: give the transfer ids to abort, or --status "
        "(e.g. --status ONGOING) to abort every transfer with that status",
        "no command": "error: the following arguments are required: COMMAND "
        "(see ica-tapis-async --help)",
    }
    for name, result in results.items():
        assert (name, result.code, result.out) == (name, 2, ""), result.err
        # A run that got as far as its progress display leaves it above the error line.
        lines = [line for line in result.err_lines if line.startswith("error:")]
        assert "Traceback" not in result.err, result.err
        if name != "journal proc":
            assert lines == result.err_lines, result.err
        if name == "past date":
            # The message carries the current time; match it to the second it was printed in.
            stamp = lines[0].split("(now is ")[1].split(")")[0]
            assert abs((datetime.fromisoformat(stamp) - now).total_seconds()) < 60
            lines = [lines[0].replace(stamp, "{now}")]
        assert lines == [expected[name]], name


def test_demo_without_transfers_or_analyses() -> None:
    """``demo --transfers 0 --analyses 0`` is allowed: those stages have nothing to do."""
    result = run("demo", "--fast", "--items", "20", "--analyses", "0", "--transfers", "0", "-q")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "every item accounted for: nothing lost, nothing failed"
