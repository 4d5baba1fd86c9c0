"""The README's command-line and pytest-fixture sections are true as written."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .shell import environment, finish, run, start

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start_at = README.index(title + "\n")
    rest = README[start_at + len(title) + 1 :]
    level = title.split(" ")[0]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.MULTILINE)]
    return rest[: ends[0]] if ends else rest


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def _commands(block: str) -> list[list[str]]:
    return [
        shlex.split(line, comments=True)[1:]
        for line in block.splitlines()
        if line.startswith("ica-tapis-async ")
    ]


def test_simulator_commands_run_as_written() -> None:
    """Every ``--simulator`` line of the command-line section exits 0 from a checkout."""
    commands = [
        c for c in _commands(_blocks(_section("## Command line"), "sh")[0]) if "--simulator" in c
    ]
    assert len(commands) == 6
    started = [start(*argv, "-q") for argv in commands]
    results = [finish(process) for process in started]
    for argv, result in zip(commands, results, strict=True):
        assert result.code == 0, (argv, result.err)


def test_resume_recipe_works(tmp_path: Path) -> None:
    """The served-simulator recipe: the link command runs, and runs again from its journal."""
    serve, link = _commands(_blocks(_section("## Command line"), "sh")[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("ica-tapis-async")), *serve[:-1], port],
        stdout=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first == f"ICA: http://127.0.0.1:{port}/ica/rest\n"
        argv = [word.replace(":8080/", f":{port}/") for word in link]
        argv[argv.index("link.sqlite")] = str(tmp_path / "link.sqlite")
        once, twice = run(*argv, "--json", cwd=str(ROOT)), run(*argv, "--json", cwd=str(ROOT))
    finally:
        server.terminate()
        server.wait(timeout=60)
        if server.stdout is not None:
            server.stdout.close()  # an open pipe is a ResourceWarning, an error in this suite
    assert once.code == twice.code == 0, once.err + twice.err
    assert '"total": 200' in once.out
    assert '"total": 200' in twice.out


def test_pytest_fixture_snippet_in_a_fresh_project(tmp_path: Path) -> None:
    """The fixture example, copied from the README into an empty project, passes with only
    the plugins the README names (pytest-asyncio and ours, registered by installing)."""
    section = _section("### pytest fixture")
    install = shlex.split(_blocks(section, "sh")[0].strip())
    assert install[:2] == ["pip", "install"]
    documented = set(install[2:])
    assert documented == {"ica_tapis_async", "pytest", "pytest-asyncio"}
    registered = {ep.name: ep.value for ep in metadata.entry_points(group="pytest11")}
    assert registered["ica_tapis_async"] == "ica_tapis_async.simulator.pytest_plugin"
    (tmp_path / "test_readme_fixture.py").write_text(_blocks(section, "python")[0])
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # a fresh project: default settings
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "pytest_asyncio.plugin",
            "-p",
            "ica_tapis_async.simulator.pytest_plugin",
            "test_readme_fixture.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environment({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^1 passed", done.stdout, re.MULTILINE), done.stdout


#: Files the README's commands create, or stand for the reader's own.
_MADE_BY_COMMANDS = {
    "link.sqlite",
    "run.sqlite",
    "conftest.py",
    ".hypothesis/",
    # the operator's day (tests/cli/test_operator_day.py)
    "day.sqlite",
    "day-retry.sqlite",
    "day.csv",
    "failed.txt",
}


def test_readme_names_only_files_in_the_repository() -> None:
    """Every path the README mentions exists in the repository (or is made by a command)."""
    mentioned = set(
        re.findall(
            r"(?<![\w/.:*-])((?:[\w.-]+/)*[\w-]+\.(?:py|md|txt|csv|json|toml|sqlite|ini))\b", README
        )
    )
    mentioned |= {
        m for m in re.findall(r"`((?:[\w.-]+/)+[\w.-]*)`", README) if not m.startswith("/")
    }
    missing = sorted(m for m in mentioned - _MADE_BY_COMMANDS if not (ROOT / m).exists())
    assert missing == []
