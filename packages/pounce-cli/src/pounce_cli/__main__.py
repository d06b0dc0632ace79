"""Run the ``pounce`` command as ``python -m pounce_cli``."""

import sys

from .main import main

sys.exit(main())
