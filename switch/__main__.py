"""``python -m switch`` is ``gongji-switch``."""

import sys

from switch.cli import main

sys.exit(main())
