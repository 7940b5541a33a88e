"""gongji's own POS terminal as a certify driver: ``python -m terminal.certify.reference_driver``.

It reads the run's JSON lines on stdin and works the project's ``Terminal`` (``terminal.clients.pos``)
as a cashier would: a checkout per sale (1101, pre-settlement, settlement, the swipe again after a
pooling prompt), a clinic's visit chain, a cancel of the last sale, and the night's 3201 from its own
books (the receipts it printed). Each case's result line reports the receipts printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from terminal.clients.pace import parse_switch_time
from terminal.clients.pos import Card, Checkout, Terminal
from terminal.clients.state import CHINA

__all__ = ["Books", "Till", "main", "serve"]


@dataclass(frozen=True, slots=True)
class Entry:
    clr_type: str
    day: date
    medfee: int
    fund: int
    acct: int  # all personal-account money: the patient's own and the family's pooled


def _fen(text: Any) -> int:
    return round(float(str(text)) * 100)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Books:
    """The till's own record of what it settled, as its receipts say: what 3201 reports at night."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def personal(self, setlinfo: dict[str, Any]) -> int:
        return _fen(setlinfo["acct_pay"]) + _fen(setlinfo["acct_mulaid_pay"])

    def add(self, setlinfo: dict[str, Any], clr_type: str) -> None:
        day = parse_switch_time(str(setlinfo["setl_time"])).astimezone(CHINA).date()
        self.entries[str(setlinfo["setl_id"])] = Entry(clr_type, day, _fen(setlinfo["medfee_sumamt"]),
                                                       _fen(setlinfo["fund_pay_sumamt"]), self.personal(setlinfo))

    def remove(self, setl_id: str) -> None:
        self.entries.pop(setl_id, None)

    def day(self, on: date, clr_type: str) -> dict[str, str | int]:
        rows = [e for e in self.entries.values() if e.day == on and e.clr_type == clr_type]
        return {"medfee_sumamt": _yuan(sum(e.medfee for e in rows)),
                "fund_pay_sumamt": _yuan(sum(e.fund for e in rows)),
                "acct_pay": _yuan(sum(e.acct for e in rows)), "fixmedins_setl_cnt": len(rows)}


class Till:
    """One till worked through the run's steps; subclasses (the tests' faulty tills) change one behaviour."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.books = Books()
        self.last: tuple[str, str] | None = None  # (setl_id, psn_no) of the last sale settled
        self.receipts = 0

    async def step(self, step: dict[str, Any]) -> str:
        """Do one step; a word for the result line."""
        if step["do"] in ("sell", "visit"):
            return await self.sell(step)
        if step["do"] == "cancel":
            return await self.cancel()
        if step["do"] == "reconcile":
            return await self.reconcile(date.fromisoformat(step["date"]))
        return f"unknown step {step['do']!r}"

    def card(self, step: dict[str, Any], again: bool = False) -> Card:
        cert = step["card"]
        return Card(cert["mdtrt_cert_type"], cert["mdtrt_cert_no"], step["psn_no"])

    async def checkout(self, step: dict[str, Any]) -> Checkout:
        retry = [timedelta(0)] if step.get("swipe_again") else []
        return await self.terminal.checkout(self.card(step), step["amount"], retry_after=retry)

    async def sell(self, step: dict[str, Any]) -> str:
        clinic = step.get("kind") == "clinic"
        self.terminal.kind, self.terminal.visit_chain = ("clinic", True) if clinic else ("pharmacy", False)
        done = await self.checkout(step)
        setlinfo = done.setlinfo
        if setlinfo is not None:
            self.print_receipt(done)
            self.books.add(setlinfo, "11" if clinic else "41")
            self.last = (str(setlinfo["setl_id"]), step["psn_no"])
        return done.code

    def print_receipt(self, done: Checkout) -> None:
        self.receipts += 1

    async def cancel(self) -> str:
        if self.last is None:
            return "nothing to cancel"
        setl_id, psn_no = self.last
        answer = await self.terminal.cancel(setl_id, psn_no)
        if answer.get("code") == "OK":
            self.books.remove(setl_id)
        return str(answer.get("code"))

    def totals(self, on: date, clr_type: str) -> dict[str, str | int]:
        return self.books.day(on, clr_type)

    async def reconcile(self, on: date) -> str:
        kinds = sorted({e.clr_type for e in self.books.entries.values() if e.day == on} | {"41"})
        codes = []
        for clr_type in kinds:
            data = {"clr_type": clr_type, "stmt_begndate": on.isoformat(), "stmt_enddate": on.isoformat(),
                    **self.totals(on, clr_type), "refd_setl_flag": "0"}
            answer = await self.terminal.send("3201", {"data": data})
            codes.append(str((answer.get("output") or {}).get("stmtinfo", {}).get("stmt_rslt", answer.get("code"))))
        return "3201:" + ",".join(codes)

    async def play(self, case: dict[str, Any]) -> dict[str, Any]:
        self.receipts = 0
        outcomes = [await self.step(step) for step in case["steps"]]
        return {"type": "result", "case": case["case"], "receipts": self.receipts, "outcomes": outcomes}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m terminal.certify.reference_driver", description=__doc__)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds the till waits for an answer (5)")
    p.add_argument("--state-dir", type=Path, help="the till's durable msgid counter (default: a fresh directory)")
    return p


def _write(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def _read() -> dict[str, Any] | None:
    line = await asyncio.to_thread(sys.stdin.readline)
    return json.loads(line) if line.strip() else None


async def serve(args: argparse.Namespace, make_terminal: type[Terminal] = Terminal,
                make_till: type[Till] = Till) -> int:
    """The driver loop: hello → ready, case → result, until bye or the end of stdin."""
    hello = await _read()
    if hello is None or hello.get("type") != "hello":
        print("reference driver: the first line must be the hello", file=sys.stderr)
        return 2
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="gongji-till-"))
    terminal = make_terminal(hello["switch"], hello["terminal_id"], hello["fixmedins_code"],
                             root=hello.get("topic_root", "gongji/v1"), state_dir=state_dir, timeout=args.timeout,
                             reversal_backoff=(0.2, 1.0), reversal_attempts=20)
    async with terminal:
        till = make_till(terminal)
        _write({"type": "ready"})
        while (message := await _read()) is not None and message.get("type") != "bye":
            if message.get("type") == "case":
                _write(await till.play(message))
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(serve(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
