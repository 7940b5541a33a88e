"""``python -m terminal`` is ``gongji-terminal``."""

import sys

from terminal.cli import main

sys.exit(main())
