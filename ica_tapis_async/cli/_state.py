"""What a running command leaves behind for the Ctrl-C message: its bars, journal and notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:  # rich (the cli extra) stays unimported for --help
    from ._progress import StageBar

__all__ = ("RunState",)


@attrs.define
class RunState:
    """Filled in by a command as it runs; read by ``main`` when the run is interrupted.

    Attributes:
        argv: the command line (without the program name), to print the resume command.
        journal: the ``--journal`` of the run, if any.
        simulator: the run used an in-process simulator (its state dies with the process).
        bars: the progress bars, for "N of M finished".
        note: a command-specific hint to print on interruption.
        secrets: the credentials the run resolved; masked wherever the run is echoed back.
        run_id: the journal's id of the run, once known (printed when it is interrupted).
    """

    argv: list[str]
    journal: str | None = None
    simulator: bool = False
    bars: list[StageBar] = attrs.field(factory=list)
    note: str | None = None
    secrets: list[str] = attrs.field(factory=list, repr=False)
    run_id: str | None = None
