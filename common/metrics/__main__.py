"""``python -m common.metrics``: see :mod:`common.metrics.cli`."""
import sys

from common.metrics.cli import main

sys.exit(main())
