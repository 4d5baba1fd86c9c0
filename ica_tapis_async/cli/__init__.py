"""The ``ica-tapis-async`` command line.

Its progress bars and tables need the ``cli`` extra (rich); ``--help``, ``--version`` and
``simulator`` work without it.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from importlib import metadata
from urllib.parse import unquote, urlparse

__all__ = ("main",)

DIST = "ica_tapis_async"


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def install_command() -> str:
    """The pip command that adds the ``cli`` extra to this very installation.

    An editable install from a checkout gets ``pip install -e '<checkout>[cli]'``, an install
    from a local directory ``pip install '<dir>[cli]'``, anything else the package name; each
    with the interpreter that runs this command, so it lands in the same environment.
    """
    target, editable = f"{DIST}[cli]", False
    try:
        text = metadata.distribution(DIST).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        text = None
    if text:
        try:
            origin = json.loads(text)
        except ValueError:
            origin = {}
        url = str(origin.get("url", ""))
        if url.startswith("file://") and "dir_info" in origin:
            target = unquote(urlparse(url).path) + "[cli]"
            editable = bool(origin["dir_info"].get("editable"))
    words = [sys.executable, "-m", "pip", "install", *(["-e"] if editable else []), target]
    return shlex.join(words)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``ica-tapis-async --help``).

    Args:
        argv: the arguments without the program name (default ``sys.argv[1:]``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "simulator":
        from ._serve import serve_main

        return serve_main(args[1:])
    if not _has_rich():
        # --help and --version need no extra; a command that draws bars does.
        from ._parser import build_parser
        from ._usage import UsageError

        try:
            build_parser().parse_args(args)
        except SystemExit as exc:
            return int(exc.code or 0) if not isinstance(exc.code, str) else 2
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(
            "ica-tapis-async: this command needs the 'cli' extra (progress bars, tables); "
            f"install it with: {install_command()}",
            file=sys.stderr,
        )
        return 2
    from ._main import main as run

    return run(args)
