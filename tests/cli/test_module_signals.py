"""``python -m ica_tapis_async`` (the README's other way to run it) stops like the script:
signals after the clean stop never change its exit status."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ica_tapis_async.simulator import Simulator

from .launch import ROOT
from .shell import environment, finish, wait_until


def _module(*argv: str) -> subprocess.Popen[str]:
    variables = environment()
    variables["PYTHONPATH"] = str(ROOT) + ":" + variables.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "ica_tapis_async", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=variables,
    )


@pytest.mark.parametrize(("first", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_after_the_clean_stop_never_change_the_status_of_python_m(
    sim: Simulator, tmp_path: Path, first: signal.Signals, code: int
) -> None:
    """The first signal stops it cleanly; a storm of SIGINT and SIGTERM until it is gone used
    to kill ``python -m ica_tapis_async`` by SIGINT (status -2) while it shut down."""
    sim.configure(step_s=0.05, item_rate=2000.0)
    ids = [f"fil.{i:032x}" for i in range(600)]
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    process = _module(
        "link", str(path), "--journal", str(tmp_path / "j.sqlite"), "--batch-size", "100",
        "--max-batches", "2", "--base-url", sim.ica_url, "--api-key", "test-key",
        "--project", f"project-{first.name}", "-q",
    )  # fmt: skip
    wait_until(
        lambda: (
            sum(1 for i in ids if i in sim.stats.link_submissions) >= 100
            or process.poll() is not None
        )
    )
    process.send_signal(first)
    time.sleep(0.02)  # the first signal is handled before the storm (not much later: it stops fast)
    sent = 0
    while process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM if sent % 2 else signal.SIGINT)
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(0.002)
    result = finish(process)
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err
    assert result.err.count("stopped cleanly.") == 1
    assert sent > 3, sent  # the storm did meet the stopping process
