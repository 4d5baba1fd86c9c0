"""``python -m ica_tapis_async``: the command's signal handlers, before the package's imports.

Python imports this package before its ``__main__`` runs, and the imports take a good part of
a second: a Ctrl-C then would be a ``KeyboardInterrupt`` traceback, a SIGTERM a silent death.
The package imports this module first; only when the interpreter was started as
``python [options] -m ica_tapis_async`` does it put the installed script's handlers in place
(a program importing the library keeps its own signal handling).
"""

from __future__ import annotations

import contextlib
import sys

__all__: tuple[str, ...] = ()

_MODULES = ("ica_tapis_async", "ica_tapis_async.__main__")


def _run_as_command(orig_argv: list[str]) -> bool:
    """Whether ``orig_argv`` starts the interpreter as ``python [options] -m ica_tapis_async``."""
    args = iter(orig_argv[1:])
    for arg in args:
        if arg in ("-X", "-W"):  # options that take a value
            next(args, None)
        elif arg.startswith("-m"):
            return (arg[2:] or next(args, "")) in _MODULES
        elif not arg.startswith("-") or arg.startswith("-c"):
            return False  # a script or -c: not run as a module
    return False


if _run_as_command(getattr(sys, "orig_argv", [])):
    with contextlib.suppress(ImportError):  # a copy of the package without its entry point
        import _ica_tapis_async_cli

        _ica_tapis_async_cli.install()
