"""Mutation testing of the core modules: run mutmut, print a score per module, enforce a floor.

Usage (from the repository root, in the project's virtualenv; ``make mutation`` does this)::

    python tools/mutation.py            # fresh run, then the report
    python tools/mutation.py --report   # the report of the last run only

What is mutated, and which tests may kill the mutants, is set in ``[tool.mutmut]`` of
pyproject.toml. mutmut records which tests reach each function, so a mutant is tried only
against the tests that run it.

Score of a module = killed / (mutants - equivalent). A mutant no test reaches counts as a
survivor: code no test runs is code no test pins. Equivalent mutants (changes no test can see,
because the behaviour is the same) are listed in ``tools/mutation_equivalents.txt``, one per
line as ``<mutant name>  <reason>``; a listed name that is no longer a survivor is reported as
stale, so the file cannot silently hide a real gap.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

FLOOR = 90.0
ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.txt"
LOG = MUTANTS / "mutmut-run.log"

# mutmut's exit codes per mutant (mutmut/stats.py): what each one means for the score.
_KILLED = {1, 3, 24, -24, 36, 37, 152, 255}  # a failing test, a timeout, the type checker
_SURVIVED = {0}
_NOT_REACHED = {5, 33}  # no test runs the mutated function


@dataclass
class ModuleScore:
    """Tally of one module's mutants."""

    path: str
    killed: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        """Mutants that count: all but the equivalent ones and the ones mutmut did not try."""
        return self.killed + len(self.survivors) + len(self.unreached)

    @property
    def score(self) -> float:
        """Percentage of counted mutants killed (100 for a module without mutants)."""
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def read_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant name -> reason, from the equivalents file (``#`` starts a comment line)."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{number}: {name} has no reason; say why it is equivalent")
        out[name] = reason.strip()
    return out


def tally(meta_files: Iterable[Path], equivalents: dict[str, str]) -> list[ModuleScore]:
    """One score per module from mutmut's ``.meta`` files."""
    scores = []
    for meta in sorted(meta_files):
        data = json.loads(meta.read_text(encoding="utf-8"))
        exit_codes: dict[str, int | None] = data.get("exit_code_by_key", {})
        if not exit_codes:
            continue
        module = ModuleScore(str(meta.relative_to(MUTANTS)).removesuffix(".meta"))
        for name, code in sorted(exit_codes.items()):
            if name in equivalents:
                module.equivalent += 1
            elif code in _KILLED:
                module.killed += 1
            elif code in _SURVIVED:
                module.survivors.append(name)
            elif code in _NOT_REACHED:
                module.unreached.append(name)
            else:
                module.untested.append(f"{name} (exit code {code})")
        scores.append(module)
    return scores


def diff_of(name: str, path: str) -> str:
    """The changed lines of a mutant (what ``mutmut show`` prints), indented."""
    # In-process, parsing each mutated module once: one ``mutmut show`` per survivor costs
    # seconds, most of it re-parsing the same file.
    from mutmut.mutation import diff_apply

    if not hasattr(diff_apply.read_mutants_module, "cache_info"):
        diff_apply.read_mutants_module = functools.cache(diff_apply.read_mutants_module)
    shown = diff_apply.get_diff_for_mutant(name, path=Path(path))
    lines = [
        line
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return "\n".join(f"        {line.strip()}" for line in lines)


def report(scores: list[ModuleScore], equivalents: dict[str, str], *, diffs: bool) -> bool:
    """Print the per-module table and the survivors; whether every module meets the floor."""
    ok = True
    print(f"{'module':<48} {'killed':>6} {'surv.':>6} {'unrun':>6} {'equiv.':>6} {'score':>7}")
    for m in scores:
        flag = "" if m.score >= FLOOR else f"   < {FLOOR:.0f}% floor"
        ok = ok and m.score >= FLOOR and not m.untested
        print(
            f"{m.path:<48} {m.killed:>6} {len(m.survivors):>6} {len(m.unreached):>6}"
            f" {m.equivalent:>6} {m.score:>6.1f}%{flag}"
        )
    for m in scores:
        if m.survivors:
            print(f"\n{m.path}: survived ({len(m.survivors)})")
        for name in m.survivors:
            print(f"    {name}")
            if diffs:
                print(diff_of(name, m.path))
        if m.unreached:
            # A function no test runs: every mutant of it survives; naming it is enough.
            functions = sorted({name.rpartition("__mutmut_")[0] for name in m.unreached})
            print(f"\n{m.path}: no test reaches ({len(m.unreached)} mutants in)")
            for function in functions:
                print(f"    {function}")
        if m.untested:
            print(f"\n{m.path}: not tried ({len(m.untested)})")
        for name in m.untested:
            print(f"    {name}")
    all_names = {
        name
        for meta in MUTANTS.rglob("*.meta")
        for name in json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
    }
    stale = sorted(set(equivalents) - all_names)
    if stale:
        ok = False
        print(f"\n{EQUIVALENTS.name}: no such mutant any more (remove or rename):")
        for name in stale:
            print(f"    {name}")
    print(f"\nfloor {FLOOR:.0f}% per module: {'met' if ok else 'NOT met'}")
    return ok


def run_mutmut() -> None:
    """A fresh mutmut run (earlier results could predate the current tests), output to a log."""
    shutil.rmtree(MUTANTS, ignore_errors=True)
    MUTANTS.mkdir()
    mutmut = Path(sys.executable).parent / "mutmut"
    print(f"mutmut run (progress in {LOG.relative_to(ROOT)}) ...", flush=True)
    with LOG.open("w", encoding="utf-8") as log:
        done = subprocess.run([str(mutmut), "run"], cwd=ROOT, stdout=log, stderr=log, check=False)
    if done.returncode != 0:
        tail = LOG.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut run failed (exit {done.returncode}):\n{tail}")


def main(argv: list[str] | None = None) -> int:
    """Run (unless ``--report``), report, and return 1 when a module is under the floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="report the last run only")
    parser.add_argument("--no-diffs", action="store_true", help="survivor names without diffs")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # mutmut reads its configuration and results relative to the root
    if not args.report:
        run_mutmut()
    metas = list(MUTANTS.rglob("*.meta"))
    if not metas:
        raise SystemExit("no mutation results: run without --report first")
    equivalents = read_equivalents()
    ok = report(tally(metas, equivalents), equivalents, diffs=not args.no_diffs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
