"""The entry point module's early stop: a signal storm before the command started.

A scheduler (or an impatient user) may send SIGTERM and Ctrl-C several times in a row. The first
one that arrives before the command's own guard stops the command with 128 + its number; the
ones after it, even while that stop is being reported, must not turn it into a traceback or
another exit status.
"""

from __future__ import annotations

import os
import signal
import sys
import types
from collections.abc import Iterator

import pytest

import _ica_tapis_async_cli as entry

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    # main() leaves SIGINT and SIGTERM ignored for the rest of the process: put pytest's back.
    saved = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


class _StormyStderr:
    """A stderr during whose writes a further signal arrives (delivered before write returns)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.text: list[str] = []

    def write(self, text: str) -> int:
        self.text.append(text)
        os.kill(os.getpid(), self.signum)
        return len(text)

    def flush(self) -> None:
        return None


@pytest.mark.parametrize(
    ("first", "second"), [(signal.SIGTERM, signal.SIGINT), (signal.SIGINT, signal.SIGINT)]
)
def test_a_signal_while_the_early_stop_is_reported_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, first: signal.Signals, second: signal.Signals
) -> None:
    """The command is stopped by ``first`` while it imports; ``second`` arrives while the stop
    is being written: the exit status is still 128 + ``first`` and nothing escapes main()."""

    def run() -> int:  # the command's import, interrupted
        os.kill(os.getpid(), first)
        raise AssertionError("the first signal did not stop the command")

    fake_cli = types.ModuleType("ica_tapis_async.cli")
    fake_cli.main = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ica_tapis_async.cli", fake_cli)
    # Other tests of this process ran the command's guard (it stays "entered" for good).
    monkeypatch.setattr(entry, "_guarded", lambda: False)
    stderr = _StormyStderr(second)
    monkeypatch.setattr(sys, "stderr", stderr)

    assert entry.main() == 128 + first
    assert "".join(stderr.text) == (
        f"Interrupted ({first.name}) before the command started: nothing was done.\n"
    )
