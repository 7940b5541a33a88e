"""``gongji-terminal``: simulated POS terminals, member apps and admin tools.

Each subcommand is a module with ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` — or, for a module that brings several commands, ``register(subparsers)``;
adding one is a line in ``SUBCOMMANDS``. Modules are imported when the
parser is built, so keep their top level light (import heavy things inside ``run``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

__all__ = ["SUBCOMMANDS", "main", "plain"]

SUBCOMMANDS: list[str] = [
    "terminal.clients.swipe",
    "terminal.demo.play",
    "terminal.scenarios.cli",  # run, scenario-schema
    "terminal.load.cli",
    "terminal.load.bench",
    "terminal.certify.cli",
]


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in SUBCOMMANDS]


def plain(doc: str | None) -> str | None:
    """A module docstring as --help shows it: without the reST ``literal`` markup."""
    return None if doc is None else doc.replace("``", "")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gongji-terminal",
                                  description="Simulated POS terminals, member apps and admin tools.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _modules():
        if hasattr(module, "register"):
            module.register(sub)
            continue
        p = sub.add_parser(module.NAME, help=module.HELP, description=plain(module.__doc__))
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("gongji-terminal: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
