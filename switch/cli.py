"""``gongji-switch``: run the settlement switch (and, later, its tools)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from switch.app import Settings, serve
from switch.errors import ConfigError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongji-switch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the settlement switch",
                       description="Run the switch. Without --broker it starts an embedded MQTT broker.")
    s.add_argument("--broker", metavar="URL", help="external broker mqtt://[user:pass@]host:port "
                   "(default: start an embedded amqtt broker on --listen)")
    s.add_argument("--listen", default="127.0.0.1:1883", metavar="HOST:PORT",
                   help="where the embedded broker listens (default 127.0.0.1:1883)")
    s.add_argument("--db", type=Path, default=Path("gongji.db"), help="SQLite ledger file (default ./gongji.db)")
    s.add_argument("--clock", choices=("system", "virtual"), default="system",
                   help="virtual: time moves only by admin.clock (or --clock-speed)")
    s.add_argument("--clock-start", type=datetime.fromisoformat, metavar="ISO8601",
                   help="where a virtual clock starts (default: now)")
    s.add_argument("--clock-speed", type=Decimal, default=Decimal(0),
                   help="virtual clock speed: 0 frozen (default), 1 real time, 60 a minute per second")
    s.add_argument("--topic-root", default="gongji/v1", help="topic root (default gongji/v1)")
    s.add_argument("--admin-token", help="require this token on every admin request")
    s.add_argument("--policy", type=Path, metavar="FILE", help="YAML/TOML policies added to (or replacing by "
                   "name) the packaged set")
    s.add_argument("--client-id", help="MQTT client id of the switch (default derived from the topic root)")
    s.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The logging HOWTO's "Optimization": skip what the format never shows (caller frame, thread,
    # process), which is most of the cost of the one line per transaction.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if args.command == "serve":
        settings = Settings(broker=args.broker, listen=args.listen, db=args.db, clock=args.clock,
                            clock_start=args.clock_start, clock_speed=args.clock_speed,
                            topic_root=args.topic_root, admin_token=args.admin_token, policy=args.policy,
                            client_id=args.client_id)
        try:
            return asyncio.run(serve(settings, on_ready=lambda line: print(line, flush=True)))
        except ConfigError as exc:
            print(f"gongji-switch: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # pragma: no cover - signal handler normally catches it
            return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
