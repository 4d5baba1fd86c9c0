"""``python -m ica_tapis_async``: the ``ica-tapis-async`` command line.

It runs the installed script's entry point (``_ica_tapis_async_cli``), whose signal handlers the
package put in place before its own imports (see ``_module_run``): a Ctrl-C or SIGTERM from the
first instant stops it as it stops the script, 130 or 143 without a traceback.
"""

import sys
from collections.abc import Callable

if __name__ == "__main__":
    entry: Callable[[], int] | None
    try:
        from _ica_tapis_async_cli import main as entry
    except ImportError:  # a copy of the package without its entry point module
        entry = None
    if entry is not None:
        sys.exit(entry())
    try:
        from .cli import main

        code = main()
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
