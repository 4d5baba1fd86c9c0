"""``python -m ica_tapis_async``: the ``ica-tapis-async`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
