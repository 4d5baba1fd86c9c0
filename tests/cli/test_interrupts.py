"""Ctrl-C, twice, at many points: a clean stop, one resume hint, no secret, a consistent journal.

Each run is the installed console script against a threaded simulator; SIGINTs are real
signals. The runs go side by side (one project and id range each) to keep the suite fast.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import threading
from pathlib import Path

from ica_tapis_async.simulator import Simulator

from .helpers import Cli
from .shell import SCRIPT, Run, environment, finish, interrupt, start, wait_until

SECRET = "sk-live-7Hq2ZpX9vR4mT8wK"
COUNT = 600
#: How many of a run's ids have been submitted when the two SIGINTs are sent.
POINTS = (1, 120, 250, 400, 550)


def _ids(case: int) -> list[str]:
    return [f"fil.{case:04x}{i:028x}" for i in range(COUNT)]


def _submitted(sim: Simulator, ids: list[str]) -> int:
    submissions = sim.stats.link_submissions
    return sum(1 for i in ids if i in submissions)


def _argv(sim: Simulator, ids_path: Path, journal: Path, project: str, style: int) -> list[str]:
    # The key in the forms argparse accepts: separate, joined with '=', abbreviated (since
    # --api-key-file, only "--access" for the token: "--api" names two flags).
    key = (
        ["--api-key", SECRET],
        [f"--api-key={SECRET}"],
        ["--access", SECRET, "--api-key", SECRET],
    )[style % 3]
    return [
        "link",
        str(ids_path),
        "--journal",
        str(journal),
        "--batch-size",
        "100",
        "--max-batches",
        "2",
        "--base-url",
        sim.ica_url,
        *key,
        "--project",
        project,
        "-q",
    ]


def _check_stopped(result: Run, argv: list[str], journal: Path) -> None:
    assert result.code == 130, result.err
    assert "Traceback" not in result.err
    assert result.err.count("Interrupted: stopped cleanly.") == 1
    token = "--access" in argv
    masked = [w if SECRET not in w else w.replace(SECRET, '"$ICA_API_KEY"') for w in argv]
    if token:
        at = masked.index("--access")
        masked[at : at + 2] = ["--access-token", '"$ICA_ACCESS_TOKEN"']
    hint = "  " + " ".join(
        [SCRIPT.rsplit("/", 1)[-1], *(w if '"$' in w else shlex.quote(w) for w in masked)]
    )
    assert result.err_lines.count(hint) == 1, result.err
    assert SECRET not in result.out + result.err
    shown = "ICA_ACCESS_TOKEN, ICA_API_KEY" if token else "ICA_API_KEY"
    assert result.err_lines[-1] == (
        f"(credentials are shown as {shown}: set them, or put yours back, before running it)"
    )
    assert journal.exists()


def test_double_ctrl_c_at_many_points_stops_once_and_resumes(
    sim: Simulator, tmp_path: Path, cli: Cli
) -> None:
    """Two SIGINTs 3 ms apart anywhere in the run: exit 130, one hint, the journal resumes."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    runs: list[tuple[int, list[str], list[str], Path, subprocess.Popen[str]]] = []
    for case, point in enumerate(POINTS):
        ids = _ids(case)
        path = tmp_path / f"ids{case}.txt"
        path.write_text("\n".join(ids) + "\n", encoding="utf-8")
        journal = tmp_path / f"j{case}.sqlite"
        argv = _argv(sim, path, journal, f"project-{case}", case)
        runs.append((point, ids, argv, journal, start(*argv)))

    def press(point: int, ids: list[str], process: subprocess.Popen[str]) -> None:
        wait_until(lambda: _submitted(sim, ids) >= point or process.poll() is not None)
        interrupt(process, times=2, gap_s=0.003)

    presses = [
        threading.Thread(target=press, args=(point, ids, process))
        for point, ids, _, _, process in runs
    ]
    for thread in presses:
        thread.start()
    results = [finish(process) for *_, process in runs]
    for thread in presses:
        thread.join()
    for (_, ids, argv, journal, _), result in zip(runs, results, strict=True):
        _check_stopped(result, argv, journal)
        # The journal is consistent: the same command finishes the job, every item once.
        resumed = cli(*argv[:-1], "--json")
        assert resumed.code == 0, resumed.err
        report = json.loads(resumed.out)
        assert (report["total"], report["lost"], report["failures"]) == (COUNT, 0, [])
        assert sum(report["counts"].values()) == COUNT
        assert sim.links(argv[argv.index("--project") + 1]) >= set(ids)


def test_sigint_forwarded_by_timeout_is_a_clean_stop(sim: Simulator, tmp_path: Path) -> None:
    """``timeout -s INT`` forwards SIGINT (plus the one sent to it): still one clean stop."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    ids = _ids(99)
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    journal = tmp_path / "j.sqlite"
    argv = _argv(sim, path, journal, "project-timeout", 0)
    process = subprocess.Popen(
        ["timeout", "-s", "INT", "30", SCRIPT, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    wait_until(lambda: _submitted(sim, ids) >= 200)
    # timeout forwards the SIGINT it gets to the command, on top of its own at the deadline.
    process.send_signal(signal.SIGINT)
    interrupt(process, times=1)
    result = finish(process)
    _check_stopped(result, argv, journal)
