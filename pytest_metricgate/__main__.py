"""``python -m pytest_metricgate history copy SRC DST``: see ``pytest_metricgate.commands``."""

from __future__ import annotations

import sys

from .commands import main

sys.exit(main(sys.argv[1:]))
