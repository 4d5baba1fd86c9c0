"""``python -m ica_tapis_async.cli``: the ``ica-tapis-async`` command line."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
