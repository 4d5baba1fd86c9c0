"""Throwaway Redis and PostgreSQL servers on 127.0.0.1 random ports, from the Debian packages.

Used by the scale-out tests (``tests/scaleout``), ``benchmarks/bench_workers.py`` and
``make demo-cluster``. Each server lives in its own temporary directory, listens only on
127.0.0.1, keeps nothing on disk that outlives it, and is stopped (and its directory removed)
by ``stop()`` or on leaving the ``with`` block.

``initdb`` refuses to run as root, so as root the PostgreSQL cluster is created and run as
the ``postgres`` user (``runuser``), which the Debian package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = (
    "HOW_TO_INSTALL",
    "PostgresServer",
    "RedisServer",
    "ServerUnavailable",
    "find_postgres_bin",
    "free_port",
)

HOW_TO_INSTALL = (
    "install the Debian packages: apt-get install -y --no-install-recommends "
    "redis-server postgresql (as root; .ci/run does it when CI=true)"
)


class ServerUnavailable(RuntimeError):
    """The server's binaries are missing (or it would not start)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb``, or one on ``PATH``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable(f"{what} exited with code {process.returncode} at start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise ServerUnavailable(f"{what} did not listen on 127.0.0.1:{port} within {limit_s} s")


class RedisServer:
    """A ``redis-server`` with no persistence on 127.0.0.1; restartable on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable(f"redis-server is not installed: {HOW_TO_INSTALL}")
        self._binary = binary
        self.port = free_port()
        self._dir = tempfile.mkdtemp(prefix="ita-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (again, after ``stop(keep=True)``) and wait until it listens."""
        args = [
            self._binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", self._dir),
            *("--save", "", "--appendonly", "no", "--loglevel", "warning"),
        ]
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        _wait_port(self.port, self._process, "redis-server", 10.0)

    def stop(self, *, keep: bool = False) -> None:
        """Kill the server (SIGKILL: a crash, nothing saved); ``keep`` the port and directory."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._process = None
        if not keep:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory on 127.0.0.1 (trust auth, fsync off)."""

    def __init__(self) -> None:
        bindir = find_postgres_bin()
        if bindir is None:
            raise ServerUnavailable(f"PostgreSQL (initdb) is not installed: {HOW_TO_INSTALL}")
        self._bin = bindir
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        # Not under pytest's tmp_path: its parents are private to root, and as root the
        # cluster belongs to the postgres user, who must reach it.
        self._dir = Path(tempfile.mkdtemp(prefix="ita-pg-"))
        self._data = self._dir / "data"
        self._started = False

    @property
    def user(self) -> str:
        """The superuser of the cluster."""
        return "postgres"

    def dsn(self, dbname: str = "postgres") -> str:
        """A ``postgresql://`` URL of one database of the cluster."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise ServerUnavailable(f"{Path(args[0]).name} failed: {output[-800:]}")

    def start(self) -> None:
        """Create the cluster (first time) and start it; wait until it accepts connections."""
        if self._as_root:
            shutil.chown(self._dir, "postgres", "postgres")
        if not self._data.exists():
            self._run(
                str(self._bin / "initdb"),
                *("-D", str(self._data), "-U", self.user, "--auth=trust"),
                *("--no-sync", "-E", "UTF8", "--locale=C"),
            )
        options = (
            f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            *("-D", str(self._data), "-o", options, "-l", str(self._dir / "log"), "-w"),
            *("-t", "60", "start"),
        )
        self._started = True

    def stop(self, *, keep: bool = False) -> None:
        """Stop the cluster immediately (a crash); ``keep`` its data, port and directory to
        ``start()`` it again, else remove them."""
        if self._started:
            with contextlib.suppress(ServerUnavailable, subprocess.TimeoutExpired):
                self._run(
                    str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "stop"
                )
            self._started = False
        if not keep:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
