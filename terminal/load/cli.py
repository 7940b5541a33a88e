"""Load test: many simulated tills running a realistic checkout mix against the switch, or the echo floor.

Without --broker it starts mosquitto (--embedded: the embedded amqtt broker) and the switch as
child processes on a fresh ledger, loads the population, runs the fleet and checks the books.
With --broker it drives the switch already running there (--root), or with --spawn-switch
starts one on that broker. --echo puts the echo responder where the switch would be: the same
requests through the same broker and client library, answered at once — the transport's floor.
With --http URL it drives the switch running at that HTTP door: the tills speak the national
interface on kept-alive connections, admin goes to POST /gongji/v1/admin. --http alone does the same
against a switch it starts itself (on mosquitto, --embedded or --broker, as above) with its HTTP door
on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from switch.wire.topics import DEFAULT_ROOT

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "load"
HELP = "load test: simulated tills running a checkout mix, with a table of throughput and latency"
FAMILIES = 200  # --families when not given


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--terminals", type=_positive(int), default=50, help="simulated tills (default 50)")
    p.add_argument("--per-connection", type=_positive(int), default=25, metavar="N",
                   help="tills sharing one MQTT connection, like a store's uplink (default 25)")
    p.add_argument("--rate", type=_positive(float), metavar="R",
                   help="requests per second across the fleet (default: as fast as answers come)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--duration", type=_positive(float), default=10.0, metavar="SECONDS",
                   help="start checkouts for this long (default 10)")
    g.add_argument("--count", type=_positive(int), metavar="N", help="run exactly N checkouts instead")
    p.add_argument("--people", type=_positive(int), default=1_000,
                   help="people in the population (default 1000)")
    p.add_argument("--families", type=int, default=FAMILIES,
                   help="families among them, half Dongying (retry window), half Zibo (automatic) "
                        f"(default {FAMILIES})")
    p.add_argument("--mix", default="own=50,retry=15,auto=20,cancel=10,reversal=5",
                   help="checkout kinds and weights (default own=50,retry=15,auto=20,cancel=10,reversal=5)")
    p.add_argument("--full-checkout", action="store_true",
                   help="read the card (1101) and pre-settle before every settlement, as a till does")
    p.add_argument("--seed", type=int, default=1, help="the mix's random seed (default 1)")
    p.add_argument("--timeout", type=_positive(float), default=10.0, help="seconds to wait for an answer")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds at the start left out of the rates")
    p.add_argument("--broker", metavar="URL", help="a running broker (default: start mosquitto)")
    p.add_argument("--http", metavar="URL", nargs="?", const="",
                   help="drive the switch running at this HTTP door instead, e.g. http://127.0.0.1:8080; "
                        "--http alone: start a switch here and drive its HTTP door")
    p.add_argument("--embedded", action="store_true",
                   help="start the embedded amqtt broker instead of mosquitto")
    p.add_argument("--root",
                   help=f"topic root of the switch (default {DEFAULT_ROOT} with --broker; fresh otherwise)")
    p.add_argument("--spawn-switch", action="store_true", help="with --broker: start a switch there anyway")
    p.add_argument("--echo", action="store_true",
                   help="run against the echo responder: the transport floor (with --http URL: an HTTP echo "
                        "already listening there, python -m terminal.load.http_echo)")
    p.add_argument("--admin-token", help="admin token of the running switch")
    p.add_argument("--db", type=Path, help="ledger of the switch started here (default: a temporary file)")
    p.add_argument("--switch-log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="log level of the switch started here (default INFO, one line per transaction)")
    p.add_argument("--journal", action="store_true",
                   help="keep the switch's traffic journal on (started here with --journal-max 0 by default)")
    p.add_argument("--prefix", default="LD", help="psn_no prefix of the population (default LD)")
    p.add_argument("--no-verify", action="store_true", help="skip admin.audit and the count check afterwards")
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")


def plan_from(args: argparse.Namespace) -> Any:
    from terminal.load.fleet import FleetConfig, parse_mix
    from terminal.load.run import LoadPlan

    fleet = FleetConfig(terminals=args.terminals, per_connection=args.per_connection, rate=args.rate,
                        duration=None if args.count else args.duration, count=args.count,
                        mix=parse_mix(args.mix), seed=args.seed, timeout=args.timeout,
                        full_checkout=args.full_checkout, expect=not args.echo, warmup=args.warmup)
    return LoadPlan(fleet=fleet, people=args.people, families=args.families, prefix=args.prefix,
                    broker=args.broker, embedded=args.embedded,
                    spawn_switch=True if args.spawn_switch else None, echo=args.echo, root=args.root,
                    admin_token=args.admin_token,
                    switch_log_level=args.switch_log_level, switch_journal=args.journal, db=args.db,
                    verify=not args.no_verify, http=args.http or None, http_door=args.http == "")


def run(args: argparse.Namespace) -> int:
    import aiomqtt
    from rich.console import Console

    from terminal.clients.mqtt import broker_url_problem
    from terminal.load.population import build_population
    from terminal.load.stats import result_table

    def fail(text: str) -> int:  # one line, never wrapped: people copy it
        print(f"gongji-terminal load: {text}", file=sys.stderr)
        return 2

    clash = [flag for flag, on in (("--broker", args.broker), ("--spawn-switch", args.spawn_switch),
                                   ("--embedded", args.embedded)) if on]
    if args.http and clash:
        return fail(f"--http drives what already answers at that URL (a switch's HTTP door, or with --echo an "
                    f"HTTP echo); drop {', '.join(clash)}")
    if args.http == "" and args.echo:
        return fail("--http alone starts a switch and drives its HTTP door; the echo floor of the HTTP door "
                    "is in gongji-terminal bench --parts http")
    if args.broker and (problem := broker_url_problem(args.broker)) is not None:
        return fail(problem)
    if args.families * 2 > args.people:
        return fail(f"{args.families} families (--families, default {FAMILIES}) need at least {args.families * 2} "
                    f"people, a holder and a relative each: with --people {args.people} pass --families N, N at most "
                    f"{args.people // 2}")
    try:
        if args.http:
            from terminal.clients.http import parse_http_url

            parse_http_url(args.http)
        build_population(args.people, args.families, args.prefix)
        plan = plan_from(args)
    except ValueError as exc:
        return fail(str(exc))
    try:
        result = asyncio.run(_run(plan, show=not args.json and sys.stderr.isatty()))
    except (RuntimeError, OSError) as exc:
        return fail(str(exc))
    except aiomqtt.MqttError as exc:  # the run starts a broker only when given none
        return fail(f"cannot reach the broker {args.broker or 'started here'}: {exc}")
    except Exception as exc:  # a refused admin.load and the like
        return fail(f"{type(exc).__name__}: {exc}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        title = (f"{'echo responder' if plan.echo else 'switch'} via {result['broker']} · "
                 f"{result['terminals']} tills on {result['connections']} connections · "
                 f"{result['people']:,} people")
        Console(highlight=False).print(result_table(result, title))
    return 0 if healthy(result) else 1


def healthy(result: dict[str, Any]) -> bool:
    """No timeouts, no unexpected codes, and (when checked) the books and counts agree."""
    stats = result["stats"]
    if stats["timeouts"] or stats["unexpected"]:
        return False
    return bool(result.get("audit", {"ok": True})["ok"] and result.get("counts_match", True))


async def _run(plan: Any, show: bool) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from terminal.load.run import run_load
    from terminal.load.stats import Stats, percentile

    fleet = plan.fleet
    total = float(fleet.count if fleet.count else fleet.duration)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[figures]}"),
                        TimeElapsedColumn(), console=Console(stderr=True), disable=not show, transient=False)
    task = progress.add_task("starting", total=total, figures="")

    def on_phase(text: str) -> None:
        progress.update(task, description=text)

    def on_tick(stats: Stats) -> None:
        import time

        elapsed = max(time.perf_counter() - stats.started, 1e-9)
        done = sum(stats.scenarios.values()) if fleet.count else min(elapsed, total)
        recent = sorted(stats.latencies[-2_000:])
        errors = stats.timeouts + sum(stats.unexpected.values())
        progress.update(task, completed=done, figures=(
            f"{stats.requests:,} answers · {stats.requests / elapsed:,.0f}/s · "
            f"p99 {percentile(recent, 99) * 1000:.1f} ms"
            f"{f' · [red]{errors} errors[/]' if errors else ''}"))

    with progress:
        return await run_load(plan, on_tick=on_tick, on_phase=on_phase)
