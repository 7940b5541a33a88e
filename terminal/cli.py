"""``gongji-terminal``: simulated POS terminals, member apps and admin tools."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    print("gongji-terminal: no commands yet", file=sys.stderr)
    return 2
