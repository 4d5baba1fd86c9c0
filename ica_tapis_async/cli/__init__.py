"""The ``ica-tapis-async`` command line.

It needs the ``cli`` extra (progress bars): ``pip install 'ica_tapis_async[cli]'``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

__all__ = ("main",)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``ica-tapis-async --help``).

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).
    """
    if importlib.util.find_spec("rich") is None:
        # The console script is installed with the library; its progress bars are an extra.
        print(
            "ica-tapis-async: the command line needs the 'cli' extra: "
            "pip install 'ica_tapis_async[cli]'",
            file=sys.stderr,
        )
        return 2
    from ._main import main as run

    return run(argv)
