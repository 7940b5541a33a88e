"""``gongji-terminal certify``: walk a till through the conformance cases, judge its traffic, write the report.

Without ``--broker``/``--http`` it starts a switch of its own (virtual clock, embedded broker or
``--switch-broker``, HTTP door on a free port). It prints the cards, then plays each case with a
cashier at the keyboard, or unattended with ``--driver CMD`` (JSON lines, docs/certify.md). It writes
``report.html`` and ``junit.xml`` into ``--out``; exit status 0 only when every required case passed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

NAME = "certify"
HELP = "conformance run of a till: cases, verdicts from its traffic, HTML and JUnit report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--door", choices=("mqtt", "http"), default="mqtt", help="the door the till uses (mqtt)")
    p.add_argument("--terminal", default="POS-01", help="the till's terminal_id on MQTT (POS-01)")
    p.add_argument("--fixmedins", default="P37050200001", help="the till's institution code (P37050200001)")
    p.add_argument("--broker", help="a running switch's broker, mqtt://HOST:PORT")
    p.add_argument("--http", help="a running switch's HTTP door, http://HOST:PORT")
    p.add_argument("--switch-http", help="the running switch's HTTP door, where its traffic journal is read "
                                         "(default: --http, else http://127.0.0.1:8080)")
    p.add_argument("--db", type=Path, help="instead: the running switch's ledger (its --db), its journal read "
                                          "from the file")
    p.add_argument("--switch-broker", help="the switch started here uses this broker (e.g. mosquitto's)")
    p.add_argument("--token", help="the switch's admin token")
    p.add_argument("--topic-root", default="gongji/v1", help="the switch's MQTT topic root (gongji/v1)")
    p.add_argument("--driver", help="unattended: a program speaking the driver protocol on stdin/stdout")
    p.add_argument("--out", type=Path, default=Path("certify-report"), help="where report.html and junit.xml go")
    p.add_argument("--late-after", type=float, default=10.0,
                   help="seconds after which the late-answer case answers (longer than the till waits; 10)")
    p.add_argument("--case", action="append", default=[], help="play only this case (repeatable)")
    p.add_argument("--driver-timeout", type=float, default=120.0, help="seconds a driver may take per case (120)")


def run(args: argparse.Namespace) -> int:
    import aiomqtt

    from terminal.certify.driver import DriverError
    from terminal.certify.session import CertifyError
    from terminal.certify.traffic import TrafficError
    from terminal.clients.http import HttpStatus, Unreachable
    from terminal.clients.mqtt import NoAnswer, Refused

    if args.late_after <= 0:
        print("gongji-terminal certify: --late-after must be more than 0 seconds", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except (CertifyError, DriverError, TrafficError, NoAnswer, Refused, Unreachable, HttpStatus) as exc:
        print(f"gongji-terminal certify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"gongji-terminal certify: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except aiomqtt.MqttError as exc:
        print(f"gongji-terminal certify: the broker: {exc}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    from switch.errors import ConfigError
    from terminal.certify.driver import Cashier, DriverProcess, Worker
    from terminal.certify.report import cards_table, passed, verdict_table, write_html, write_junit
    from terminal.certify.session import CertifyError, Options, Result, certify

    opts = Options(args.door, args.terminal, args.fixmedins, args.broker, args.http, args.db, args.switch_broker,
                   args.token, args.topic_root, late_after=args.late_after, only=tuple(args.case), workdir=args.out,
                   switch_http=args.switch_http)
    console = Console(soft_wrap=not sys.stdout.isatty())
    worker: Worker = DriverProcess(args.driver, args.out / "driver.log", args.driver_timeout) if args.driver \
        else Cashier()
    results: list[Result] = []
    pending = [c.id for c in opts.cases()]
    live: Any = None

    def on_cards(url: str) -> None:
        nonlocal live
        console.print(cards_table(url))
        if args.driver and console.is_terminal:  # a cashier's prompts must not be redrawn away
            live = Live(verdict_table(results, pending), console=console, auto_refresh=False)
            live.start()

    def on_result(result: Result) -> None:
        results.append(result)
        pending.remove(result.case.id)
        if live is not None:
            live.update(verdict_table(results, pending), refresh=True)
        else:
            console.print(f"{result.verdict.outcome.upper():4} {result.case.id}: {result.verdict.detail}",
                          markup=False, highlight=False)

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        await certify(opts, worker, on_cards, on_result)
    except ConfigError as exc:
        raise CertifyError(str(exc)) from None
    finally:
        if live is not None:
            live.stop()
    if live is None:
        console.print(verdict_table(results))
    write_html(args.out / "report.html", opts, results)
    write_junit(args.out / "junit.xml", opts, results)
    ok = passed(results)
    console.print(f"{'PASSED' if ok else 'FAILED'}: report {args.out / 'report.html'}, JUnit {args.out / 'junit.xml'}",
                  markup=False, highlight=False)
    return 0 if ok else 1
