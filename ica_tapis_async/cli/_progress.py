"""Live progress bars (rich, on stderr), one per stage, fed by the orchestrator's callback."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Column
from rich.text import Text

from ..orchestrator import Progress
from ._live_row import LiveProgress

__all__ = ("ProgressDisplay", "StageBar")


class _RateColumn(ProgressColumn):
    """Items per second, averaged over the stage so far."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("   -/s", style="progress.data.speed")
        return Text(f"{task.completed / elapsed:>6,.0f}/s", style="progress.data.speed")


class StageBar:
    """One bar; call it with a :class:`Progress` snapshot (it is a ``ProgressCallback``)."""

    def __init__(
        self, display: ProgressDisplay, task: TaskID | None, total: int, *, started: bool = True
    ) -> None:
        self._display = display
        self._task = task
        self.total = total
        self.started = started
        self.last: Progress | None = None
        self.done = 0

    def __call__(self, snapshot: Progress) -> None:
        self.last = snapshot
        self.update(snapshot.done, _summary(snapshot))

    def on_transfer(self, snapshot: Progress) -> None:
        """A ``ProgressCallback`` for a transfer run: tasks finished, 429s first."""
        self.last = snapshot
        done = sum(snapshot.finished.values())
        counts = " · ".join(f"{k} {v:,}" for k, v in sorted(snapshot.finished.items()))
        self.update(done, f"429 {snapshot.throttled:,} · {counts or 'creating'}")

    def start(self) -> None:
        """Start the bar's clock (a stage waits, unstarted, until its turn)."""
        self.started = True
        if self._task is not None and self._display.progress is not None:
            self._display.progress.start_task(self._task)

    def update(self, done: int, info: str = "") -> None:
        """Show ``done`` items finished and a short ``info`` text."""
        self.done = done
        if self._task is not None and self._display.progress is not None:
            self._display.progress.update(self._task, completed=done, info=info)

    def advance(self, count: int = 1, info: str = "") -> None:
        """Count ``count`` more items finished."""
        self.update(self.done + count, info)

    def finish(self, info: str | None = None) -> None:
        """Mark the stage complete (its bar stays, stopped)."""
        if self._task is not None and self._display.progress is not None:
            progress = self._display.progress
            if info is None:
                progress.update(self._task, completed=self.done)
            else:
                progress.update(self._task, completed=self.done, info=info)
            progress.stop_task(self._task)


def _summary(snapshot: Progress) -> str:
    # Most important first: a narrow terminal cuts the end of this column.
    parts = [f"429 {snapshot.throttled:,}", f"req {snapshot.requests:,}"]
    parts += [f"{status.lower()} {count:,}" for status, count in sorted(snapshot.finished.items())]
    if snapshot.in_flight:
        parts.append(f"{snapshot.in_flight} in flight")
    return " · ".join(parts)


#: Below this many columns the bars drop the time-remaining column and draw a shorter bar, so
#: that counts, rate and 429s fit on one line of an 80-column terminal.
NARROW = 110


class ProgressDisplay:
    """A context manager holding the live bars; silent when ``enabled`` is false.

    Example::

        with ProgressDisplay() as display:
            bar = display.stage("link", total=len(ids))
            report = await BatchOrchestrator(ica, pid, progress=bar).link(ids)
    """

    def __init__(self, console: Console | None = None, *, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True, emoji=False)
        self.progress: RichProgress | None = None
        if enabled:
            narrow = self.console.width < NARROW
            fixed = Column(no_wrap=True)
            columns: list[ProgressColumn] = [
                TextColumn("[bold]{task.description:<9}", table_column=fixed),
                BarColumn(bar_width=8 if narrow else 30),
                MofNCompleteColumn(table_column=Column(no_wrap=True)),
            ]
            if not narrow:
                columns.append(TaskProgressColumn())
            columns += [_RateColumn(table_column=fixed), TimeElapsedColumn(table_column=fixed)]
            if not narrow:
                columns.append(TimeRemainingColumn())
            # The info column gives way first: it is last, and its most important part leads.
            columns.append(
                TextColumn(
                    "[dim]{task.fields[info]}",
                    table_column=Column(no_wrap=True, overflow="ellipsis"),
                )
            )
            self.progress = LiveProgress(*columns, console=self.console, refresh_per_second=8)

    def stage(self, name: str, total: int, *, start: bool = True) -> StageBar:
        """Add a bar for ``total`` items; ``start=False`` leaves it waiting."""
        task = None
        if self.progress is not None:
            task = self.progress.add_task(name, total=total, start=start, info="")
        return StageBar(self, task, total, started=start)

    def __enter__(self) -> Self:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()
