"""``python -m ogshot``: the same as the ``ogshot`` command."""

import sys

from ogshot.cli import main

sys.exit(main())
