"""What a person sees in an 80-column terminal: every number that matters, nothing cut off."""

from __future__ import annotations

import io
import re
from pathlib import Path

import attrs
from rich.console import Console

from ica_tapis_async.cli._demo import _Stage, _summary
from ica_tapis_async.orchestrator import BatchReport
from ica_tapis_async.simulator import Simulator

from .helpers import PROJECT
from .shell import last_frame, run_in_terminal


def test_progress_bar_fits_80_columns(sim: Simulator, tmp_path: Path) -> None:
    """The last frame of the bar shows the count, the rate and the 429s, uncut, in 80 columns."""
    # A small budget with no burst: the first parallel batches meet 429s however slow the machine.
    sim.configure(rate_limit=8.0, rate_limit_burst=1)
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"fil.{i:032x}\n" for i in range(600)), encoding="utf-8")
    screen = run_in_terminal(
        "link",
        str(ids),
        "--batch-size",
        "100",
        "--max-batches",
        "8",
        "--base-url",
        sim.ica_url,
        "--api-key",
        "k",
        "--project",
        PROJECT,
    )
    assert screen.code == 0, screen.out
    bar = last_frame(screen.out, ("link",))["link"]
    assert len(bar) <= 80
    throttled = sim.stats.throttled
    assert throttled > 0
    match = re.fullmatch(
        r"link +━+ +600/600 +[\d,]+/s \d:\d\d:\d\d 429 (\d+) · req [\d,]+ · linked 600",
        bar,
    )
    assert match is not None, bar
    assert int(match.group(1)) == throttled
    # Every frame on the way keeps count, rate and 429s; only the tail of the info may give way.
    frames = [piece for piece in re.split(r"[\r\n]", screen.out) if piece.startswith("link ")]
    assert len(frames) > 3
    for frame in frames:
        assert len(frame.rstrip()) <= 80
        if re.match(r"link +([━╺╸]+ +)?0/600 +-/s", frame):
            continue  # before the first batch has news
        assert re.match(r"link +([━╺╸]+ +)?\d+/600 +([\d,]+|-)/s +\d:\d\d:\d\d 429 \d+", frame), (
            frame
        )


def test_transfer_list_shortens_ids_in_80_columns(sim: Simulator) -> None:
    """Ids are cut to 8 characters plus '…' (and the list says so); the rest fits uncut."""
    screen = run_in_terminal(
        "transfers", "list", "--base-url", sim.ica_url, "--api-key", "k", "--project", PROJECT
    )
    assert screen.code == 0, screen.out
    lines = screen.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    rows = [line for line in lines if line.startswith("│")]
    assert rows
    assert all(re.match(r"│ [0-9a-f]{8}… +│ [A-Z]+ +│", row) for row in rows), rows
    assert lines[-1] == "(ids shortened: --json or a wider terminal shows them whole)"
    assert re.fullmatch(r"\d+ transfers", lines[-2])


def test_demo_summary_fits_80_columns() -> None:
    """The demo's summary with the default sizes' numbers fits 80 columns uncut."""
    report = BatchReport("r", "link", {"LINKED": 20_000}, total=20_000)
    report = attrs.evolve(report, batches=20, requests=12_345, throttled=1_234, elapsed_s=8.25)
    stages = [_Stage(name, 20_000, report) for name in ("link", "tag", "analyses", "transfers")]
    stats = attrs.make_class("Stats", ["requests", "throttled"])(123_456, 1_234)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(_summary(stages, 61.5, stats))
    text = console.export_text()
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    rows = [line.strip() for line in text.splitlines()]
    assert "link        20,000   20,000        0      0   12,345   1,234   8.2 s   2,424/s" in rows
