"""Checkout stories on simulated tills, against a switch and a broker started right here.

With no arguments: an embedded MQTT broker on a free port, the switch in this process on a
virtual clock running 60× (the 5-minute pooling window passes in 5 seconds), a Dongying and a
Zibo family, and five checkout stories on a live view of the tills. It ends with the balances
and the ledger audit; the exit status is 0 only if every amount came out exactly as expected.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from switch.signals import until_signalled
from switch.wire.topics import DEFAULT_ROOT

if TYPE_CHECKING:
    from rich.console import Console

    from switch.service.handling import SettlementSwitch
    from terminal.clients.admin import Admin
    from terminal.clients.pace import Pace
    from terminal.clients.pos import Terminal
    from terminal.demo.stories import Stage
    from terminal.demo.view import View

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "demo"
HELP = "play checkout stories on pharmacy and clinic terminals (starts its own broker and switch)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speed", type=float, default=None,
                   help="virtual clock speed: switch seconds per real second (default 60: the 5-minute "
                        "window takes 5 s; with --web 1)")
    p.add_argument("--fast", action="store_true",
                   help="for CI: frozen clock moved in jumps, no pauses, plain output")
    p.add_argument("--no-live", action="store_true", help="plain lines instead of the live view")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="where the embedded broker listens (default: a free port)")
    p.add_argument("--broker", metavar="URL", help="use this broker instead of starting one")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"topic root (default {DEFAULT_ROOT})")
    p.add_argument("--db", type=Path, help="SQLite ledger (default: a temporary file; it is reset first)")
    p.add_argument("--stay", action="store_true",
                   help="afterwards keep the broker and switch running (clock at real time) for your own "
                        "swipes, until Ctrl-C")
    p.add_argument("--web", action="store_true",
                   help="serve the checkout studio page on the HTTP door instead (its URL is printed): tills, "
                        "the family, the holder's phone, the clock and the stories in a browser, until Ctrl-C")
    p.add_argument("--http", metavar="HOST:PORT",
                   help="with --web or --stay: where the HTTP door (and the page) listen (default 127.0.0.1:8080; "
                        "with --stay a free port when 8080 is taken)")


def run(args: argparse.Namespace) -> int:
    if args.speed is None:
        args.speed = 1.0 if args.web else 60.0  # a room reads the prompt at real time; a terminal run is short
    if args.speed < 0 or (args.speed == 0 and not (args.fast or args.web)):  # 0 with --web: a frozen clock
        print("gongji-terminal demo: --speed must be > 0 (or use --fast)")
        return 2
    return asyncio.run(_demo(args))


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _demo(args: argparse.Namespace) -> int:
    import tempfile

    from switch.bootstrap import Running, Settings, running
    from switch.errors import ConfigError

    with tempfile.TemporaryDirectory(prefix="gongji-demo-") as tmp:
        async with AsyncExitStack() as stack:
            try:
                if args.broker:
                    where: dict[str, str] = {"broker": args.broker}
                else:
                    host, _, port = (args.listen or "127.0.0.1:0").rpartition(":")
                    host = host or "127.0.0.1"
                    where = {"listen": f"{host}:{int(port) or _free_port(host)}"}
                settings = Settings(**where, db=args.db or Path(tmp) / "demo.db",  # type: ignore[arg-type]
                                    clock="virtual", topic_root=args.root,
                                    client_id=f"gongji-demo-{Path(tmp).name}", http=_http_door(args))
                switch: Running = await stack.enter_async_context(running(settings))
            except (ConfigError, ValueError, OSError) as exc:
                what = "switch" if args.web or args.http is not None else "broker"
                print(f"gongji-terminal demo: cannot start the {what}: {exc}")
                return 2
            try:
                await switch.ready(10)
            except TimeoutError:
                print(f"gongji-terminal demo: the switch could not connect to {switch.broker_url}")
                return 2
            if args.web:
                from terminal.demo.web import studio

                return await studio(args, switch)
            async with AsyncExitStack() as clients:
                status = await _play(args, switch.broker_url, switch.service, Path(tmp), clients)
            if args.stay:
                await _stay(args, switch.broker_url, switch.http.url if switch.http is not None else None)
            return status


def _http_door(args: argparse.Namespace) -> str:
    """Where the HTTP door listens: as asked; for --web 8080; for --stay 8080 unless it is taken (the line it
    prints then names the free port it took); for the stories alone a free port, so runs never collide."""
    if args.http is not None:
        return str(args.http)
    if args.web:
        return "127.0.0.1:8080"
    if args.stay:
        import socket

        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", 8080))
            except OSError:
                return "127.0.0.1:0"
        return "127.0.0.1:8080"
    return "127.0.0.1:0"


async def _stay(args: argparse.Namespace, url: str, http: str | None) -> None:
    """Serve on after the stories, so a person can try ``gongji-terminal swipe`` on the demo's families."""
    from datetime import datetime

    from switch.service.clock import CST
    from terminal.clients.admin import Admin

    async with Admin(url, root=args.root) as admin:
        # The stories ran on demo time (09:30 today onwards); what follows is a person's own, in real time.
        now = (await admin.clock(set=datetime.now(CST), speed=1))["now"]
    door = f", HTTP door {http}" if http else ""
    over_http = (f"\n  gongji-terminal swipe --http {http} --fixmedins P37050200001 --cert QR-D002 --amount 80.00"
                 if http else "")
    print(f"\nThe switch stays up on {url} (topics {args.root}/{door}, clock at real time: {now[11:19]} China time); "
          "Ctrl-C stops it. Try:\n"
          f"  gongji-terminal swipe --broker {url} --root {args.root} --fixmedins P37050200001 "
          f"--cert QR-D002 --amount 80.00{over_http}", flush=True)
    await until_signalled()


async def _play(args: argparse.Namespace, url: str, switch: SettlementSwitch, tmp: Path,
                stack: AsyncExitStack) -> int:
    from datetime import datetime, time

    from rich.console import Console

    from switch.service.clock import CST
    from terminal.clients.admin import Admin
    from terminal.clients.pace import JumpPace, RealPace
    from terminal.demo.stories import BINDINGS, PEOPLE, Stage
    from terminal.demo.view import LiveView, View

    console = Console(highlight=False)
    fast = args.fast
    admin = await stack.enter_async_context(Admin(url, root=args.root, events=True))
    await admin.reset()
    clock = await admin.clock(set=datetime.combine(datetime.now(CST).date(), time(9, 30), CST))
    await admin.load(PEOPLE, BINDINGS)
    pace: Pace = JumpPace(admin) if fast else RealPace(args.speed)
    speed = 0.0 if fast else args.speed

    def header() -> str:
        now = switch.clock.now()
        return (f"gongji demo · broker {url} · topics {args.root}/ · switch clock {now:%H:%M:%S} "
                f"({'frozen, moved in jumps' if fast else f'×{speed:g}'})")

    live = not (fast or args.no_live) and console.is_terminal
    view = LiveView(console, 1.2, header, switch.clock.now) if live else View(console, 0.0 if fast else 0.5)
    if not live:
        console.print(header())
    tills = await _tills(args, url, tmp, stack, pace, view, clock["now"])
    view.start_balances = await admin.balances()
    stage = Stage(admin, tills, view)
    await _tell(args, admin, view, stage)
    return await _verdict(console, admin, view, stage)


async def _tills(args: argparse.Namespace, url: str, tmp: Path, stack: AsyncExitStack, pace: Pace, view: View,
                 now: str) -> dict[str, Terminal]:
    """The demo's pharmacy and clinic terminals, connected, their clocks set to the switch's."""
    from terminal.clients.pos import Terminal
    from terminal.demo.stories import TILLS

    tills = {}
    for terminal_id, (code, kind, name) in TILLS.items():
        till = Terminal(url, terminal_id, code, kind=kind, root=args.root,  # type: ignore[arg-type]
                        state_dir=tmp / "terminals", pace=pace, on_step=view.on_step, name=name)
        tills[terminal_id] = await stack.enter_async_context(till)
        till.time.observe(now)
    view.terminals = list(tills.values())
    return tills


async def _tell(args: argparse.Namespace, admin: Admin, view: View, stage: Stage) -> None:
    """Play every story on the view, events shown as they come."""
    from terminal.demo.stories import STORIES

    async def feed() -> None:
        while True:
            view.on_event(await admin.events.get())

    feeder = asyncio.create_task(feed())
    try:
        with view:
            await stage.refresh()
            if not args.fast:
                await admin.clock(speed=args.speed)
            for number, story in enumerate(STORIES, 1):
                view.story(number, story.title)
                await view.beat()
                await story.play(stage)
                await stage.refresh()
                await view.beat(2.0)
    finally:
        feeder.cancel()


async def _verdict(console: Console, admin: Admin, view: View, stage: Stage) -> int:
    """Final balances and the audit; 0 only if every amount came out as expected."""
    from terminal.clients.receipt import balances_table
    from terminal.demo.stories import EXPECTED_BALANCES

    state = await admin.state()
    console.print(balances_table(state["people"], view.start_balances, title="final balances 最终余额"))
    final = {p["psn_no"]: p["balc"] for p in state["people"]}
    for psn_no, expected in EXPECTED_BALANCES.items():
        stage.expect(f"final balance of {psn_no}", final.get(psn_no), expected)
    audit = await admin.audit()
    console.print(f"admin.audit: {'ok' if audit['ok'] else 'FAILED'} "
                  f"({audit.get('checked', {}).get('settlements', 0)} settlements checked"
                  f"{'' if audit['ok'] else ': ' + '; '.join(audit['violations'])})")
    if stage.failures:
        console.print(f"[bold red]{len(stage.failures)} expectation(s) failed:[/bold red]")
        for failure in stage.failures:
            console.print(f"  {failure}")
    ok = audit["ok"] and not stage.failures
    console.print("demo: all stories came out as expected" if ok else "demo: FAILED")
    return 0 if ok else 1
