"""Run every benchmark with modest defaults and write ``benchmarks/results.md``.

Each benchmark runs in its own process (so one's memory and threads do not disturb the next);
their Markdown sections are gathered, with the machine and the command, into the results file.
The whole run takes about four minutes on two cores (``--quick``: well under a minute, with
smaller sizes, for a smoke test).

    python benchmarks/run_all.py            # or: make bench
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import _common

HERE = Path(__file__).resolve().parent

#: (script, arguments, quick arguments)
BENCHMARKS: tuple[tuple[str, list[str], list[str]], ...] = (
    (
        "bench_requests.py",
        ["--requests", "5000", "--repeat", "3"],
        ["--requests", "1000", "--libica-requests", "300", "--repeat", "1"],
    ),
    (
        "bench_telemetry.py",
        ["--requests", "3000", "--repeat", "5"],
        ["--requests", "500", "--repeat", "1"],
    ),
    ("bench_paging.py", ["--pages", "10", "--repeat", "5"], ["--pages", "4", "--repeat", "2"]),
    (
        "bench_rate_limit.py",
        ["--rate", "50", "--seconds", "30", "--warmup", "8"],
        ["--rate", "50", "--seconds", "6", "--warmup", "2"],
    ),
    ("bench_end_to_end.py", ["--items", "100000"], ["--items", "10000"]),
    ("bench_memory.py", ["--items", "1000000"], ["--items", "50000"]),
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run them all; 0 when every target was met, 1 when one was missed, 2 when one crashed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--output", default=str(HERE / "results.md"), help="results file")
    args = parser.parse_args(argv)

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(_common.ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    sections: list[str] = []
    summary: list[tuple[str, str, float]] = []
    worst = 0
    started = time.monotonic()
    for script, full, quick in BENCHMARKS:
        script_args = quick if args.quick else full
        command = [sys.executable, str(HERE / script), *script_args]
        shown = " ".join(["python", f"benchmarks/{script}", *script_args])
        print(f"running {shown}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=_common.ROOT)
        took = time.monotonic() - t0
        output = done.stdout.strip()
        if done.returncode not in (0, 1) or not output.startswith("## "):
            status, worst = "crashed", 2
            trace = done.stderr[-3000:]
            output = f"## {script}\n\ncrashed (exit {done.returncode}):\n\n```\n{trace}\n```"
        else:
            status = "all targets met" if done.returncode == 0 else "target missed"
            worst = max(worst, done.returncode)
        print(output + "\n", flush=True)
        sections.append(f"{output}\n\n<sub>`{shown}` ({took:.0f} s)</sub>\n")
        summary.append((script, status, took))

    elapsed = time.monotonic() - started
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# Benchmark results",
        "",
        f"Measured {when} on {_common.machine()}; {elapsed:.0f} s in all.",
        f"Reproduce with `python benchmarks/run_all.py{' --quick' if args.quick else ''}` "
        "(or `make bench`); each script also runs alone, see its `--help`.",
        "",
        _common.table(["benchmark", "result", "time (s)"], summary),
        "",
    ]
    Path(args.output).write_text("\n".join(head + sections), encoding="utf-8")
    print(f"wrote {args.output} ({elapsed:.0f} s)", file=sys.stderr)
    return worst


if __name__ == "__main__":
    sys.exit(main())
