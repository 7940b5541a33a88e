"""``gongji-switch``: run the settlement switch, and the vendor kit's tools (contract, reference, journal)."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import sys
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from switch.bootstrap import Settings, serve
from switch.doors.broker import port_taken_in
from switch.errors import ConfigError
from switch.kit.commands import TOOLS, add_tools, run_tool
from switch.loglines import LINE_FORMAT, LineFormatter, TurnHandler
from switch.service import trail
from switch.store.base import StoreOpenError

__all__ = ["main"]

DEFAULTS = Settings()  # the options' defaults are the settings' own


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongji-switch", description="Run the settlement switch, and the vendor "
                                     "kit's tools: the contract (asyncapi, schemas), the reference, the journal.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the settlement switch",
                       description="Run the switch. Without --broker it starts an embedded MQTT broker.")
    s.add_argument("--broker", metavar="URL", help="external broker mqtt://[user:pass@]host:port "
                   "(default: start an embedded amqtt broker on --listen)")
    s.add_argument("--listen", default=DEFAULTS.listen, metavar="HOST:PORT",
                   help=f"where the embedded broker listens (default {DEFAULTS.listen})")
    s.add_argument("--db", type=Path, default=DEFAULTS.db, help=f"SQLite ledger file (default ./{DEFAULTS.db})")
    s.add_argument("--clock", choices=("system", "virtual"), default=DEFAULTS.clock,
                   help="virtual: time moves only by admin.clock (or --clock-speed)")
    s.add_argument("--clock-start", type=datetime.fromisoformat, metavar="ISO8601",
                   help="where a virtual clock starts (default: now); needs --clock virtual")
    s.add_argument("--clock-speed", type=Decimal, default=DEFAULTS.clock_speed,
                   help="virtual clock speed: 0 frozen (default), 1 real time, 60 a minute per second; needs "
                   "--clock virtual")
    s.add_argument("--topic-root", default=DEFAULTS.topic_root, help=f"topic root (default {DEFAULTS.topic_root})")
    s.add_argument("--admin-token", help="require this token on every admin request")
    s.add_argument("--policy", type=Path, metavar="FILE", help="YAML/TOML policies added to (or replacing by "
                   "name) the packaged set")
    s.add_argument("--client-id", help="MQTT client id of the switch (default derived from the topic root)")
    s.add_argument("--faults", type=Path, metavar="FILE", help="YAML/JSON list of fault rules in force from the "
                   "start (see admin.faults)")
    s.add_argument("--access", type=Path, metavar="DIR", help="users and ACLs written by mosquitto-config: the "
                   "embedded broker enforces them, and the switch logs in as their switch user")
    s.add_argument("--http", default=DEFAULTS.http, metavar="HOST:PORT|off",
                   help=f"where the HTTP door (the national interface, admin, app, events) listens "
                   f"(default {DEFAULTS.http}; off: no HTTP door)")
    s.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    s.add_argument("--journal-max", type=int, default=DEFAULTS.journal_max, metavar="N",
                   help=f"messages kept in the traffic journal (default {DEFAULTS.journal_max}; 0: none)")
    s.add_argument("--idempotency-hours", type=float, default=DEFAULTS.idempotency_hours, metavar="H",
                   help=f"how long, on the switch's clock, a msgid's answer is kept and replayed (default "
                   f"{DEFAULTS.idempotency_hours:g}); past it the msgid is a new request, except that a settled "
                   "msgid never settles again")
    s.add_argument("--keep", type=int, default=DEFAULTS.keep, metavar="N",
                   help=f"of settlements, recorded answers, pooled-spending rows, visits (with their batches) and "
                   f"sign-ins, the newest N kept in memory (default {DEFAULTS.keep:,}, about 1 KB each); older ones "
                   "are read from the ledger file when a request names one, so memory stays flat under sustained "
                   "traffic")
    # --- mosquitto-config: broker accounts and ACLs (switch/doors/access.py) ---
    m = sub.add_parser("mosquitto-config", help="write mosquitto config, password file and ACL",
                       description="Write a mosquitto configuration, password file and ACL in DIR in which each "
                       "terminal publishes only on its own req topic and reads only its own resp topic, each "
                       "member app likewise, and only the admin user uses the admin channel. Also writes the "
                       "same rules for the embedded broker (serve --access DIR). Run again on the same DIR, it "
                       "keeps every account already there with its password and adds the new ones.")
    m.add_argument("dir", type=Path, metavar="DIR")
    m.add_argument("--terminal", action="append", default=[], metavar="ID[@FIXMEDINS][=PASSWORD]",
                   help="a POS terminal account (repeat), registered for its institution when @FIXMEDINS is "
                   "given (the switch then takes the institution from the account); password generated when "
                   "not given")
    m.add_argument("--app", action="append", default=[], metavar="PSN_NO[=PASSWORD]",
                   help="a member-app account (repeat)")
    m.add_argument("--admin-password", help="password of the admin user (generated when not given)")
    m.add_argument("--switch-password", help="password of the switch's own user (generated when not given)")
    m.add_argument("--new-passwords", action="store_true",
                   help="give every account, those already in DIR too, a new password (a password given with "
                   "=PASSWORD is used as given); without it a re-run keeps the passwords already in DIR")
    m.add_argument("--topic-root", help=f"topic root (default: the one DIR's files have, else {DEFAULTS.topic_root})")
    m.add_argument("--listen", metavar="HOST:PORT",
                   help=f"where mosquitto listens (default: the address DIR's files have, else {DEFAULTS.listen})")
    add_tools(sub)
    return parser


def _mosquitto_config(args: argparse.Namespace) -> int:
    from switch.doors.access import ADMIN_USER, SWITCH_USER, mosquitto_config_command

    passwords: dict[str, str] = {}
    institutions: dict[str, str] = {}
    ids: dict[str, list[str]] = {"pos": [], "app": []}
    for role, given in (("pos", args.terminal), ("app", args.app)):
        for item in given:
            account, _, password = item.partition("=")
            name, at, institution = account.partition("@")
            if at and role != "pos":
                raise ConfigError(f"--app {item!r}: only a terminal is registered for an institution")
            if name in ids[role]:
                raise ConfigError(f"--{'terminal' if role == 'pos' else 'app'} {name!r} is given twice")
            ids[role].append(name)
            if at:
                institutions[name] = institution
            if password:
                passwords[name] = password
    if args.admin_password:
        passwords[ADMIN_USER] = args.admin_password
    if args.switch_password:
        passwords[SWITCH_USER] = args.switch_password
    return mosquitto_config_command(args.dir, ids["pos"], ids["app"], passwords, args.topic_root, args.listen,
                                    institutions, new_passwords=args.new_passwords)


def _plainest(exc: Exception) -> BaseException:
    """A taken port explains itself in full; the wrapper's "cannot start the embedded broker" adds nothing."""
    return port_taken_in(exc) or exc


def _one_file(a: TextIO, b: TextIO) -> bool:
    """Whether two streams write to the same file (``> log 2>&1``, or one terminal)."""
    try:
        first, second = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # a stream without a file: pytest's capture
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in TOOLS:
        return run_tool(args)
    handler = TurnHandler(sys.stderr)
    handler.setFormatter(LineFormatter(LINE_FORMAT))
    logging.basicConfig(level=getattr(args, "log_level", "WARNING"), handlers=[handler])
    # The logging HOWTO's "Optimization": skip what the format never shows (caller frame, thread,
    # process), which is most of the cost of the one line per transaction.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    trail.write_through(handler)  # and the one line per answer skips logging altogether (switch/service/trail.py)
    if args.command == "serve":
        # Every option of serve is a field of Settings, under the same name.
        settings = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings)})
        try:
            return asyncio.run(serve(settings, on_ready=lambda line: print(line, flush=True),
                                     log_ready=not _one_file(sys.stdout, sys.stderr)))
        except (ConfigError, StoreOpenError) as exc:
            print(f"gongji-switch: {_plainest(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # pragma: no cover - signal handler normally catches it
            return 130
    # The parser admits no other command.
    try:
        return _mosquitto_config(args)
    except ConfigError as exc:
        print(f"gongji-switch: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
