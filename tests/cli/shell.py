"""Running the installed ``ica-tapis-async`` console script as a person or a script would."""

from __future__ import annotations

import atexit
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

SCRIPT = str(Path(sys.executable).with_name("ica-tapis-async"))
ENV_VARS = (
    "ICA_BASE_URL",
    "ICA_API_KEY",
    "ICA_ACCESS_TOKEN",
    "ICA_PROJECT_ID",
    "TAPIS_BASE_URL",
    "TAPIS_TOKEN",
    "ICAV2_SERVER_URL",
    "ICAV2_X_API_KEY",
    "ICAV2_ACCESS_TOKEN",
)
_EMPTY_HOME = tempfile.mkdtemp(prefix="ita-home-")
atexit.register(shutil.rmtree, _EMPTY_HOME, True)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@attrs.frozen
class Run:
    """Exit code and output of one run of the console script."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """The lines of stderr, without trailing blanks."""
        return [line.rstrip() for line in self.err.splitlines()]


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any ICA/Tapis setting, 80 columns wide."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["COLUMNS"] = "80"
    # No ~/.icav2/config.yaml of the developer's: the command line reads it for settings.
    env["HOME"] = _EMPTY_HOME
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update(extra or {})
    return env


def run(
    *argv: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300.0,
    cwd: str | None = None,
) -> Run:
    """Run ``ica-tapis-async ARGV`` to its end; stdin is empty unless given."""
    done = subprocess.run(
        [SCRIPT, *argv],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environment(env),
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def start(*argv: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``ica-tapis-async ARGV`` (to be interrupted); see :func:`finish`."""
    return subprocess.Popen(
        [SCRIPT, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(env),
    )


def finish(process: subprocess.Popen[str], timeout: float = 300.0) -> Run:
    """Wait for a started run and collect its output (killed if it outlives ``timeout``)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"still running after {timeout} s; stderr:\n{err}") from None
    return Run(process.returncode, out, err)


def interrupt(process: subprocess.Popen[str], times: int = 1, gap_s: float = 0.003) -> None:
    """Send SIGINT ``times`` times, ``gap_s`` apart (a person's double Ctrl-C)."""
    for i in range(times):
        if i:
            time.sleep(gap_s)
        process.send_signal(signal.SIGINT)


def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll ``condition`` every few milliseconds until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.002)


def run_in_terminal(
    *argv: str,
    columns: int = 80,
    env: Mapping[str, str] | None = None,
    answer: str | None = None,
    timeout: float = 300.0,
    program: str = SCRIPT,
) -> Run:
    """Run ``program ARGV`` in a pseudo terminal ``columns`` wide, as a person sees it.

    ``out`` is what the terminal received (stdout and stderr together), escape codes removed.
    ``answer`` is typed once the program has printed something.
    """
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        variables = environment(env)
        variables.pop("COLUMNS", None)
        variables["TERM"] = "xterm-256color"
        os.execve(program, [program, *argv], variables)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    typed = answer is None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            if not typed and chunks:
                os.write(fd, answer.encode())  # type: ignore[union-attr]
                typed = True
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return Run(os.waitstatus_to_exitcode(status), _ANSI.sub("", text).replace("\r\n", "\n"), "")


def last_frame(screen: str, names: tuple[str, ...]) -> dict[str, str]:
    """The last line drawn for each progress bar named in ``names``."""
    lines: dict[str, str] = {}
    for piece in re.split(r"[\r\n]", screen):
        for name in names:
            if piece.startswith(name + " "):
                lines[name] = piece.rstrip()
    return lines
