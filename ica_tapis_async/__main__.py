"""``python -m ica_tapis_async``: the ``ica-tapis-async`` command line.

The installed ``ica-tapis-async`` script stops cleanly from its first instant (its entry point
module handles signals before importing the package); here the package is imported before
this module runs, so a Ctrl-C after that at least ends in 130 without a traceback.
"""

import sys

if __name__ == "__main__":
    try:
        from .cli import main

        code = main()
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
