"""One checkout from the command line: read the card, pre-settle, settle, and print the receipt.

Exit status: 0 settled; 1 declined or refused (the code is printed; for POOLING_AVAILABLE the
prompt and when the window ends); 2 bad arguments, no broker, or no switch answering on it (said
within seconds); 3 no answer once the switch had answered (nothing was charged: an unanswered
settlement is reversed before the command gives up). With --http URL the till talks to the switch's
HTTP door as national checkout software does (the platform's envelope, layouts and msgids).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from switch.wire.topics import DEFAULT_ROOT

if TYPE_CHECKING:
    from rich.console import Console

    from terminal.clients.pos import Swipe

__all__ = ["HELP", "NAME", "add_arguments", "run"]

# Until the switch first answers, each try of the card read waits this long (three tries): silence
# then means no switch is there, said in seconds rather than after three full --timeout waits.
FIRST_ANSWER_SECONDS = 1.5

NAME = "swipe"
HELP = "one settlement at a pharmacy or clinic terminal, printed as a receipt"


def _amount(text: str) -> str:
    from switch.core.money import AmountError, format_fen, parse_amount

    try:
        return format_fen(parse_amount(text.strip()))  # a shell argument, not the wire: spaces are typing
    except AmountError as exc:
        raise argparse.ArgumentTypeError(f"amount {exc}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL",
                   help="broker of the switch (default mqtt://127.0.0.1:1883)")
    p.add_argument("--http", metavar="URL",
                   help="talk to the switch's HTTP door instead, e.g. http://127.0.0.1:8080 (a till's own "
                        "path, …/callService, may follow; a switch started with --access wants the terminal's "
                        "account: http://T1:PASSWORD@127.0.0.1:8080)")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"topic root (default {DEFAULT_ROOT})")
    p.add_argument("--terminal", default="POS-01", help="terminal id (default POS-01)")
    p.add_argument("--fixmedins", default="P37050000001", metavar="CODE",
                   help="institution code of the pharmacy or clinic (default P37050000001)")
    p.add_argument("--psn", metavar="PSN_NO", help="patient's psn_no (default: the one the card belongs to)")
    p.add_argument("--cert-type", choices=("01", "02", "03"), default="01",
                   help="01 e-voucher QR (default), 02 ID card, 03 social-security card")
    p.add_argument("--cert", required=True, metavar="NUMBER", help="the patient's own certificate number")
    p.add_argument("--amount", required=True, type=_amount, help="total fee, e.g. 80.00")
    p.add_argument("--clinic", action="store_true", help="outpatient clinic (2206/2207) instead of pharmacy")
    p.add_argument("--no-account", action="store_true", help="pay cash: acct_used_flag 0")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer (default 5)")
    p.add_argument("--state-dir", type=Path,
                   help="where the terminal keeps its msgid counter and owed reversals "
                        "(default $GONGJI_STATE_DIR or ~/.local/state/gongji/terminals)")


def run(args: argparse.Namespace) -> int:
    from terminal.clients.state import TerminalState, default_state_dir

    try:
        return asyncio.run(_swipe(args))
    except KeyboardInterrupt:
        owed = TerminalState(args.state_dir or default_state_dir(), args.terminal).pending()  # per terminal, any door
        for p in owed:
            print(f"interrupted: reversal {p.msgid} of settlement {p.omsgid} is still owed; terminal "
                  f"{args.terminal} sends it when it next starts", file=sys.stderr)
        return 130


async def _swipe(args: argparse.Namespace) -> int:
    import aiomqtt
    from rich.console import Console

    from switch.errors import ConfigError
    from terminal.clients.http import HttpStatus, Unreachable, shown
    from terminal.clients.mqtt import ConnectionEnded, NoAnswer, broker_url_problem, no_switch_under
    from terminal.clients.pos import Card, Kind, Step, Terminal

    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    kind: Kind = "clinic" if args.clinic else "pharmacy"
    title = f"{'clinic 门诊' if args.clinic else 'pharmacy 药店'} {args.fixmedins} · terminal {args.terminal}"
    answered = False
    try:
        if args.http:
            from terminal.clients.http import parse_http_url

            parse_http_url(args.http)  # a wrong URL is said before anything is sent
        elif (problem := broker_url_problem(args.broker)) is not None:
            print(f"gongji-terminal swipe: {problem}", file=sys.stderr)
            return 2

        def trouble(step: Step) -> None:  # a receipt is all a cashier wants, unless something went wrong
            nonlocal answered
            if step.kind == "answer" and not answered:
                answered = True
                terminal.client.timeout = args.timeout
            if answered and (step.kind in ("reversal", "timeout", "recover") or step.infno == "2601"):
                err.print(step.text, style="dim", markup=False)

        terminal = Terminal(args.http or args.broker, args.terminal, args.fixmedins, kind=kind, root=args.root,
                            state_dir=args.state_dir, timeout=min(args.timeout, FIRST_ANSWER_SECONDS),
                            on_step=trouble)
        async with terminal:
            swipe = await terminal.swipe(Card(args.cert_type, args.cert, args.psn), args.amount,
                                         use_account=not args.no_account)
    except (ConfigError, ValueError) as exc:
        print(f"gongji-terminal swipe: {exc}", file=sys.stderr)
        return 2
    except aiomqtt.MqttError as exc:
        print(f"gongji-terminal swipe: cannot reach the broker {args.broker}: {exc}", file=sys.stderr)
        return 2
    except (Unreachable, HttpStatus) as exc:
        print(f"gongji-terminal swipe: {exc}", file=sys.stderr)
        return 2
    except NoAnswer as exc:
        if not answered:
            said = (f"{exc}, at each try: is that gongji-switch's HTTP door, and is no fault rule dropping the "
                    "card read's answers (admin.faults)?" if isinstance(exc, ConnectionEnded) else
                    f"no switch answered at {shown(args.http)}: is gongji-switch serve running with that --http?"
                    if args.http else no_switch_under(args.broker, args.root))
            print(f"gongji-terminal swipe: {said}", file=sys.stderr)
            return 2
        print(f"gongji-terminal swipe: {exc}", file=sys.stderr)
        return 3
    return _show(swipe, title, console)


def _show(swipe: Swipe, title: str, console: Console) -> int:
    """Print what the cashier reads after the swipe; returns the exit status."""
    from terminal.clients.receipt import card_line, decline_panel, failure_panel, receipt_panel

    if swipe.card is not None and swipe.card.get("code") == "OK":
        console.print(card_line(swipe.card))
    if swipe.status == "settled":
        assert swipe.answer is not None
        holder = ((swipe.card or {}).get("output") or {}).get("mulaid") or {}
        console.print(receipt_panel(swipe.answer["output"]["setlinfo"], title, holder.get("holder_name")))
        return 0
    if swipe.status == "declined" and swipe.prompt is not None:
        assert swipe.answer is not None
        prompt = swipe.prompt
        console.print(decline_panel(swipe.answer, title))
        console.print(f"POOLING_AVAILABLE: swipe again before {prompt.expires_at:%H:%M:%S} "
                      f"(switch clock) to pay {prompt.shortfall} from {prompt.holder}'s account")
        return 1
    if swipe.status == "reversed":
        assert swipe.answer is not None
        out = swipe.answer.get("output") or {}
        console.print(failure_panel({"code": "NO_ANSWER", "err_msg": (
            f"no answer to settlement {swipe.msgid}; reversal 2601 answered {swipe.answer.get('code')} "
            f"(reversed={out.get('reversed')}): nothing was charged")}, title))
        return 3
    answer = swipe.answer or swipe.preview or swipe.card or {}
    console.print(failure_panel(answer, title))
    console.print(f"{answer.get('code')}: {answer.get('err_msg')}")
    return 1
