"""The vendor kit's commands: ``asyncapi``, ``openapi``, ``schemas``, ``reference`` and ``journal``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml
from rich.console import Console

from switch.doors.journal_http import MAX_LIMIT
from switch.errors import ConfigError
from switch.journal.show import Filters, print_journal
from switch.journal.table import JournalRow, read_journal
from switch.kit.examples import ROOT
from switch.store.base import StoreError
from switch.wire.inputs import parse_duration
from switch.wire.topics import checked_root

__all__ = ["TOOLS", "add_tools", "run_tool"]

TOOLS = ("asyncapi", "openapi", "schemas", "reference", "journal")
# The checkout's docs, wherever the command runs from (an editable install lives in the checkout).
REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def add_tools(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("asyncapi", help="print the AsyncAPI 3.0 document of the protocol",
                       description="Print the AsyncAPI 3.0 document (JSON, or YAML with --yaml), generated "
                                   "from the wire models with examples recorded from the real switch.")
    a.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    a.add_argument("--topic-root", default=ROOT, help=f"topic root of the channel addresses (default {ROOT})")
    o = sub.add_parser("openapi", help="print the OpenAPI 3.1 document of the HTTP door",
                       description="Print the OpenAPI 3.1 document of the HTTP door (JSON, or YAML with --yaml), "
                                   "generated from the same wire models as the AsyncAPI document.")
    o.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    o.add_argument("--server", default="http://127.0.0.1:8080", help="the server URL it names "
                   "(default http://127.0.0.1:8080)")
    s = sub.add_parser("schemas", help="write one JSON Schema per message into a directory",
                       description="Write one self-contained JSON Schema (draft-07) per message into DIR.")
    s.add_argument("dir", type=Path, metavar="DIR")
    r = sub.add_parser("reference", help="regenerate docs/reference.md from the wire models",
                       description="Write the protocol reference generated from the models ('-' prints it).")
    r.add_argument("path", nargs="?", type=Path, help="output file (default: docs/reference.md of the checkout "
                   "gongji runs from)")
    r.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale")
    j = sub.add_parser("journal", help="show the traffic journal: what arrived, what was answered, what not",
                       description="Show the newest messages the switch heard under its topic root, with the "
                                   "answer's code and a hint when a message could not be answered.")
    j.add_argument("--db", type=Path, default=Path("gongji.db"),
                   help="the switch's database (default ./gongji.db)")
    j.add_argument("--terminal", metavar="T", help="only this sender (terminal id, psn_no, or admin)")
    j.add_argument("--msgid", metavar="M", help="only this msgid")
    j.add_argument("--since", metavar="DURATION", help="only the last DURATION (5m, 1h, 90s) of real time")
    j.add_argument("--limit", type=int, default=50, metavar="N",
                   help=f"newest N rows, 1 to {MAX_LIMIT} (default 50)")
    j.add_argument("--payloads", action="store_true", help="print each request and answer under the table")
    j.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")


def run_tool(args: argparse.Namespace) -> int:
    if args.command == "asyncapi":
        from switch.kit.asyncapi import build, dumps

        try:
            root = checked_root(args.topic_root)
        except ConfigError as exc:
            print(f"gongji-switch asyncapi: {exc}", file=sys.stderr)
            return 2
        doc = build(root)
        sys.stdout.write(yaml.dump(doc, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=120)
                         if args.yaml else dumps(doc))
        return 0
    if args.command == "openapi":
        from switch.kit.asyncapi import dumps
        from switch.kit.openapi import build as build_openapi

        doc = build_openapi(args.server)
        sys.stdout.write(yaml.dump(doc, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=120)
                         if args.yaml else dumps(doc))
        return 0
    if args.command == "schemas":
        return _schemas(args.dir)
    if args.command == "reference":
        return _reference(args.path, args.check)
    return _journal(args)


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: shared dicts (the MQTT binding) are spelled out each time."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _schemas(directory: Path) -> int:
    from switch.kit.asyncapi import build, dumps, message_schemas

    if directory.exists() and not directory.is_dir():
        print(f"gongji-switch schemas: {directory} is a file: the schemas are written into a directory; name one",
              file=sys.stderr)
        return 2
    directory.mkdir(parents=True, exist_ok=True)
    files = message_schemas(build())
    for name, schema in files.items():
        (directory / name).write_text(dumps(schema), encoding="utf-8")
    print(f"wrote {len(files)} JSON Schemas to {directory}")
    return 0


def _reference(path: Path | None, check: bool) -> int:
    from switch.kit.reference import render

    if path is None:
        if not REFERENCE.parent.is_dir():
            print("gongji-switch reference: gongji is not running from a checkout with docs/: give a file to "
                  "write (gongji-switch reference FILE), or '-' to print it", file=sys.stderr)
            return 2
        path = REFERENCE
    text = render()
    if str(path) == "-":
        sys.stdout.write(text)
        return 0
    try:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if check:
            if current == text:
                return 0
            print(f"{path} is stale: run 'gongji-switch reference {path}'", file=sys.stderr)
            return 1
        if current != text:
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"gongji-switch reference: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"{path}: {'unchanged' if current == text else 'written'}")
    return 0


def _journal(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:  # the HTTP door's bounds (GET /gongji/v1/journal?limit=)
        print(f"gongji-switch journal: --limit {args.limit}: expected a whole number from 1 to {MAX_LIMIT}",
              file=sys.stderr)
        return 2
    since = None
    if args.since:
        try:
            since = time.time() - parse_duration(args.since).total_seconds()
        except ValueError as exc:
            print(f"gongji-switch journal: --since: {exc}", file=sys.stderr)
            return 2
    try:
        rows = read_journal(args.db, terminal=args.terminal, msgid=args.msgid, since=since,
                            limit=args.limit)
    except StoreError as exc:
        print(f"gongji-switch journal: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for row in rows:
            print(json.dumps(_as_json(row), ensure_ascii=False))
        return 0
    print_journal(Console(highlight=False), rows, args.db, Filters(args.terminal, args.msgid, args.since, since),
                  payloads=args.payloads)
    return 0


def _as_json(row: JournalRow) -> dict[str, object]:
    out: dict[str, object] = {k: getattr(row, k) for k in row.__dataclass_fields__}
    out["request"] = row.request.decode(errors="replace")
    out["response"] = None if row.response is None else row.response.decode(errors="replace")
    return out
