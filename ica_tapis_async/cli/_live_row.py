"""The live traffic line under the progress bars (needs rich, like the bars)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import RenderableType
from rich.progress import Progress as RichProgress
from rich.text import Text

from ._observe import current_telemetry

__all__ = ("LiveProgress",)


class LiveProgress(RichProgress):
    """rich's ``Progress`` with one more line under the bars while a command observes:
    request rate against the limiter's rate, 429s and retries per minute, slowest batch.

    The line sits outside the bars' table, so its length never squeezes their columns; on a
    narrow terminal it is cut with an ellipsis.
    """

    def __init__(self, *columns: Any, **kwargs: Any) -> None:
        telemetry = current_telemetry()
        # Before rich's own set-up, which may already render.
        self.traffic = telemetry.live if telemetry is not None else None
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable[RenderableType]:
        """The bars, then the traffic line (re-read at every refresh)."""
        yield from super().get_renderables()
        if self.traffic is not None and self.tasks:
            yield Text(
                "traffic   " + self.traffic.snapshot().describe(),
                style="cyan",
                no_wrap=True,
                overflow="ellipsis",
            )
