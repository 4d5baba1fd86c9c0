"""The newcomer's findings (issue 22, point 6), each as it was met from the shell."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import ica_tapis_async as ita
from ica_tapis_async.simulator import Simulator

from .helpers import Cli, server_flags
from .shell import SCRIPT, environment, run, run_in_terminal


@pytest.mark.parametrize("flag", ["--rate", "--concurrency", "--unreachable-after"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_nan_and_inf_are_usage_errors_naming_the_flag(cli: Cli, flag: str, value: str) -> None:
    """``--rate nan`` used to be a traceback: now exit 2, one line naming the flag."""
    result = cli("link", "-", "--simulator", f"{flag}={value}")
    assert result.code == 2, result.err
    assert result.err.startswith(f"error: argument {flag}: "), result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_user_text_is_printed_literally_not_as_emoji(cli: Cli, tmp_path: Path) -> None:
    """File names, run ids and ids such as ``sample:ok:`` are not turned into emoji."""
    missing = tmp_path / "sample:ok:.txt"
    result = cli("link", str(missing), "--simulator")
    assert result.code == 2
    assert f"{missing}: no such file" in result.err
    journal = tmp_path / "j.sqlite"

    async def populate() -> None:
        store = ita.SqliteJournal(journal)
        try:
            await store.open_run("link", "proj", "nightly:thumbs_up:", "fp")
        finally:
            await store.aclose()

    asyncio.run(populate())
    status = cli("status", "--journal", str(journal), "--run-id", "nightly:thumbs_up:")
    assert status.code == 0, status.err
    assert "run nightly:thumbs_up:: link, unfinished" in " ".join(status.out.split())


def _read_only(directory: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the command with ``directory`` mounted read-only (a private mount namespace: the
    tests run as root, whom a chmod does not stop), or with its mode 0555 for other users."""
    import os

    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            return subprocess.run(
                [SCRIPT, *argv], capture_output=True, text=True, env=environment(), check=False
            )
        finally:
            directory.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to make a read-only directory as root")
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(directory), SCRIPT, *argv],
        capture_output=True,
        text=True,
        env=environment(),
        check=False,
    )
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"cannot make a read-only mount here: {done.stderr.strip()}")
    return done


def test_a_journal_in_a_read_only_directory_is_not_called_not_a_journal(tmp_path: Path) -> None:
    """The directory is named as the problem, for a run and for status."""
    directory = tmp_path / "ro"
    directory.mkdir()
    journal = directory / "j.sqlite"
    ids = directory / "ids.txt"
    ids.write_text("fil.1\n", encoding="utf-8")

    async def populate() -> None:
        store = ita.SqliteJournal(journal)
        try:
            await store.open_run("link", "P", "r1", "fp")
        finally:
            await store.aclose()

    asyncio.run(populate())
    server = ["--base-url", "http://127.0.0.1:9/ica/rest", "--api-key", "k", "--project", "P"]
    expected = (
        f"error: --journal {journal}: its directory {directory} is not writable (the journal "
        "writes j.sqlite-wal and j.sqlite-shm beside it): copy the journal to a writable "
        "directory and use that copy"
    )
    for argv in (
        ["link", str(ids), "--journal", str(journal), *server],
        ["status", "--journal", str(journal), "--run-id", "r1"],
    ):
        done = _read_only(directory, *argv)
        assert done.returncode == 2, done.stderr
        assert " ".join(done.stderr.split()) == expected, done.stderr


def test_a_report_that_cannot_be_written_is_one_line_and_not_lost(tmp_path: Path) -> None:
    """Stdout on a full disk (/dev/full): exit 1, where it failed, the report on stderr."""
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"fil.{i:032x}\n" for i in range(20)), encoding="utf-8")
    for extra in (["--json"], ["-q"]):
        with open("/dev/full", "w", encoding="utf-8") as full:
            done = subprocess.run(
                [SCRIPT, "link", str(ids), "--simulator", *extra],
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env=environment(),
                check=False,
            )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert "Exception ignored" not in done.stderr
        first, *rest = done.stderr.splitlines()
        assert first == (
            "error: could not write the report to stdout (/dev/full): No space left on device; "
            "here it is instead:"
        )
        if extra == ["--json"]:
            assert json.loads("\n".join(rest))["counts"] == {"LINKED": 20}
        else:
            assert any("LINKED" in line and "20" in line for line in rest)


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_transfers_list_fits_the_terminal_and_keeps_the_status(columns: int) -> None:
    """At any width every line fits, id and status are always there, and what was left out is
    said (the table used to lose its columns at 80 and 40)."""
    result = run_in_terminal("transfers", "list", "--simulator", "--limit", "6", columns=columns)
    assert result.code == 0, result.out
    lines = result.out.splitlines()
    assert all(len(line) <= columns for line in lines), "\n".join(lines)
    header = next(line for line in lines if "┃ id" in line)
    assert "status" in header
    assert header.rstrip().endswith("┃")  # the table's right edge is drawn: nothing cut off
    if columns < 80:
        assert "left out" in result.out


def test_transfers_list_at_40_columns_with_long_values(sim: Simulator, cli: Cli) -> None:
    """Wide values (long references, messages) never push id or status off the table."""
    result = run(
        "transfers",
        "list",
        "--base-url",
        sim.ica_url,
        "--api-key",
        "k",
        "--project",
        "P-" + "x" * 60,
        env={"COLUMNS": "40"},
    )
    assert result.code == 0, result.err
    assert all(len(line) <= 40 for line in result.out.splitlines()), result.out
    # The title is folded, not cropped to the table's width.
    assert "P-" + "x" * 60 in "".join(result.out.splitlines()), result.out
    assert "status" in result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--status", "BOGUS"], "error: --status 'BOGUS': not a transfer status; one of "),
        (["list", "--sort", "bogus desc"], "error: --sort 'bogus desc': 'bogus desc' is not FIELD"),
        (["list", "--sort", "status, size"], "error: --sort 'status, size': 'size' is not FIELD"),
        (["list", "--sort", "status sideways"], "error: --sort 'status sideways': "),
        (["abort", "--status", "RUNNING"], "error: --status 'RUNNING': not a transfer status"),
    ],
)
def test_transfer_filters_are_checked_before_sending(
    sim: Simulator, cli: Cli, argv: list[str], message: str
) -> None:
    """A bad --status or --sort is exit 2 from the command line, not the server's 400 (exit 1);
    nothing is sent."""
    before = sim.stats.requests
    result = cli("transfers", *argv, *server_flags(sim))
    assert result.code == 2, result.err
    assert result.err.startswith(message), result.err
    assert sim.stats.requests == before


def test_transfer_filters_in_lower_case_are_accepted(sim: Simulator, cli: Cli) -> None:
    """``--status ongoing --sort 'status desc'`` is what the server accepts, spelt its way."""
    result = cli(
        "transfers",
        "list",
        "--status",
        "ongoing",
        "--sort",
        "status DESC",
        "--json",
        *server_flags(sim),
    )
    assert result.code == 0, result.err
    assert {t["status"] for t in json.loads(result.out)} <= {"ONGOING"}


class _FullDisk(io.StringIO):
    """A stream whose flush fails as a full disk's does."""

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_large_output_is_not_kept_in_memory() -> None:
    """Past its limit the guard keeps nothing (an export of millions of items is in the
    journal), and the failure says the output was too large to repeat."""
    from ica_tapis_async.cli._stdout import GuardedStdout, ReportWriteError

    small, large = GuardedStdout(_FullDisk(), keep=100), GuardedStdout(_FullDisk(), keep=100)
    small.write("x" * 60)
    large.write("x" * 60)
    large.write("y" * 60)
    for guard, kept in ((small, "x" * 60), (large, None)):
        with pytest.raises(ReportWriteError) as raised:
            guard.flush()
        assert raised.value.text == kept
        assert str(raised.value) == "could not write the report to stdout: No space left on device"
