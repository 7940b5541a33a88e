"""``gongji-terminal``: simulated POS terminals, member apps and admin tools."""

from __future__ import annotations

import argparse
import sys

from terminal.scenario_cli import add_run_parser, add_schema_parser

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongji-terminal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_schema_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
