"""Run the ``pounce`` command as ``python -m pounce``."""

import sys

from pounce_cli import main

sys.exit(main())
