"""The crash test: terminals settle while the switch process is SIGKILLed again and again, then every fen is checked.

Run the long form with ``python -m tests.crash --kills 50`` (CI runs ``tests/e2e/test_crash.py``, 20 kills).

Each terminal owns two families (Dongying: decline, then pool inside the retry window; Zibo: pool
at once) and a tiny money model of them (``tests/support/money.py``, not the core). It settles
(pharmacy and outpatient), cancels, reverses and credits, retrying every unanswered request with
the same msgid; now and then it gives up on a settlement instead and reverses it (2601), as a real
POS does. A killer SIGKILLs the switch at random moments and restarts it on the same ledger; the
switch keeps a persistent session on mosquitto, so what was sent meanwhile waits for it.

At the end: every settlement a terminal saw acknowledged exists exactly once with the status the
terminal last saw; every abandoned one is reversed or absent; ``admin.audit`` is ok; every
balance equals the models' replay of the acknowledged history.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from terminal.clients.mqtt import SwitchClient
from tests.support.brokers import MosquittoProcess
from tests.support.families import cert, person
from tests.support.money import MoneyModel, Paid
from tests.support.retrying import RetryingPos, Tally
from tests.support.switches import SwitchProcess

__all__ = ["Figures", "figures_table", "run_crash"]

CLOCK_START = "2026-11-25T10:00:00+08:00"
OUTPATIENT_RATIO = {"310": "0.5", "390": "0.4"}  # the packaged policies' fund ratio for med_type 11


def fen(text: str) -> int:
    return int(Decimal(text) * 100)


def yuan(value: int) -> str:
    return f"{value / 100:.2f}"


@dataclass
class Figures:
    kills: int = 0
    tally: Tally = field(default_factory=Tally)
    settled: int = 0
    prompts: int = 0
    pooled_in_window: int = 0
    pooled_automatic: int = 0
    cancels: int = 0
    reversals: int = 0
    abandoned_undone: int = 0
    credits: int = 0
    fen_checked: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class Acked:
    """A settlement this terminal saw acknowledged, and what it last saw happen to it."""

    msgid: str
    infno: str
    patient: str
    paid: Paid
    status: str = "settled"


@dataclass(frozen=True)
class Family:
    holder: str
    members: tuple[str, ...]
    flow: str  # retry_window / automatic


class CrashTerminal:
    """One POS terminal, its families, its model of their money, and what it saw acknowledged."""

    def __init__(self, index: int, url: str, root: str, rng: random.Random, figures: Figures) -> None:
        self.id = f"T{index}"
        self.fixmedins = f"P3705{index:07d}"
        self.rng = rng
        self.figures = figures
        self.model = MoneyModel()
        self.insutype: dict[str, str] = {}
        self.windows: set[tuple[str, str]] = set()
        self.acked: dict[str, Acked] = {}  # setl_id -> what the terminal knows
        self.abandoned: set[str] = set()  # msgids given up on and reversed
        self.client = SwitchClient(url, "pos", self.id, root=root, fixmedins_code=self.fixmedins, timeout=1.0)
        self.admin_client = SwitchClient(url, "admin", "admin", root=root, timeout=1.0)
        self.pos = RetryingPos(self.client, attempt_timeout=1.0)
        self.admin = RetryingPos(self.admin_client, attempt_timeout=1.0)
        d, z = f"D{index}", f"Z{index}"
        self.families = (Family(f"{d}H", (f"{d}H", f"{d}R", f"{d}E"), "retry_window"),
                         Family(f"{z}H", (f"{z}H", f"{z}R", f"{z}C"), "automatic"))

    def load(self) -> dict[str, Any]:
        """The admin.load of this terminal's families, mirrored into its model."""
        people, bindings = [], []
        for family, region in zip(self.families, ("370500", "370300"), strict=True):
            holder, resident, employee = family.members
            for psn_no, balance, insutype in ((holder, 200_000, "310"), (resident, 0, "390"),
                                             (employee, 3_000, "310")):
                people.append(person(psn_no, region, yuan(balance) if insutype == "310" else None, insutype))
                self.model.person(psn_no, balance, insutype == "310")
                self.insutype[psn_no] = insutype
            cap = 30_000 if family.flow == "automatic" else None
            bindings += [{"holder_psn_no": holder, "relative_psn_no": resident, "rltn": "child",
                          **({"cap": yuan(cap)} if cap else {})},
                         {"holder_psn_no": holder, "relative_psn_no": employee, "rltn": "spouse"}]
            self.model.bind(holder, resident, cap)
            self.model.bind(holder, employee)
        return {"people": people, "bindings": bindings}

    def fail(self, what: str) -> None:
        self.figures.failures.append(f"{self.id}: {what}")

    def expect(self, answer: dict[str, Any], code: str, what: str) -> bool:
        if answer.get("code") != code:
            self.fail(f"{what}: expected {code}, got {answer.get('code')} {answer.get('err_msg')}")
            return False
        return True

    def compare(self, info: dict[str, Any], paid: Paid, sign: int, what: str) -> None:
        got = Paid(sign * fen(info["fund_pay_sumamt"]), sign * fen(info["acct_pay"]),
                   sign * fen(info["acct_mulaid_pay"]), sign * fen(info["psn_cash_pay"]),
                   info["mulaid_psn_no"])
        if got != paid:
            self.fail(f"{what}: switch paid {got}, the model says {paid}")
        self.figures.fen_checked += paid.fund + paid.acct + paid.mulaid + paid.cash

    # --- operations ------------------------------------------------------------------------------

    async def step(self) -> None:
        roll = self.rng.random()
        settled = [s for s in self.acked.items() if s[1].status == "settled"]
        if roll < 0.12 and settled:
            await self.undo(*self.rng.choice(settled), via=self.rng.choice(["2103", "2208", "2601"]))
        elif roll < 0.17:
            await self.top_up()
        else:
            await self.settle()

    async def settle(self) -> None:
        family = self.rng.choice(self.families)
        patient = self.rng.choice(family.members)
        fee = self.rng.randint(100, 12_000)
        infno = self.rng.choice(["2102", "2102", "2207"])
        ratio = OUTPATIENT_RATIO[self.insutype[patient]] if infno == "2207" else "0"
        paid = self.model.quote(patient, fee, ratio)
        body = {"psn_no": patient, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert(patient),
                "medfee_sumamt": yuan(fee), "acct_used_flag": "1"}
        input = {"druginfo": body} if infno == "2102" else {"data": body}
        key = (patient, self.fixmedins)
        in_window = family.flow == "retry_window" and paid.mulaid > 0
        if in_window and key not in self.windows:
            prompt = await self.pos.request(infno, input)
            if not self.expect(prompt, "POOLING_AVAILABLE", f"first swipe {patient} {yuan(fee)}"):
                return
            if fen(prompt["output"]["shortfall"]) != paid.mulaid + paid.cash:
                self.fail(f"prompt shortfall {prompt['output']['shortfall']} for {patient}, model {paid}")
            self.windows.add(key)
            self.figures.prompts += 1
        msgid = self.client.next_msgid()
        if not in_window and self.rng.random() < 0.25:
            # A POS that times out reverses instead of retrying (never when a window is involved: whether
            # an unseen swipe used the window would then be unknowable to the terminal).
            outcome, answer = await self.pos.settle_or_reverse(infno, input, patient, msgid)
            if outcome == "reversed":
                self.abandoned.add(msgid)
                if self.expect(answer, "OK", f"reversal of abandoned {msgid}") and answer["output"]["reversed"]:
                    self.figures.abandoned_undone += 1
                return
        else:
            answer = await self.pos.request(infno, input, msgid=msgid)
        if not self.expect(answer, "OK", f"settlement {msgid} of {patient} {yuan(fee)}"):
            return
        info = answer["output"]["setlinfo"]
        self.compare(info, paid, 1, f"settlement {info['setl_id']}")
        self.model.settle(patient, paid)
        self.acked[info["setl_id"]] = Acked(msgid, infno, patient, paid)
        self.windows.discard(key)
        self.figures.settled += 1
        if paid.mulaid:
            if in_window:
                self.figures.pooled_in_window += 1
            else:
                self.figures.pooled_automatic += 1

    async def undo(self, setl_id: str, acked: Acked, via: str) -> None:
        if via == "2601":
            answer = await self.pos.request("2601", {"psn_no": acked.patient, "omsgid": acked.msgid,
                                                     "oinfno": acked.infno})
        else:
            answer = await self.pos.request(via, {"setl_id": setl_id, "psn_no": acked.patient})
        if not self.expect(answer, "OK", f"{via} of {setl_id}"):
            return
        if via == "2601" and answer["output"]["reversed"] is not True:
            self.fail(f"reversal of {setl_id} did not reverse: {answer['output']}")
            return
        self.compare(answer["output"]["setlinfo"], acked.paid, -1, f"{via} of {setl_id}")
        self.model.refund(acked.patient, acked.paid)
        acked.status = "reversed" if via == "2601" else "cancelled"
        if via == "2601":
            self.figures.reversals += 1
        else:
            self.figures.cancels += 1

    async def top_up(self) -> None:
        holder = self.rng.choice(self.families).holder
        amount = self.rng.randint(1_000, 50_000)
        answer = await self.admin.request("admin.credit", {"psn_no": holder, "amount": yuan(amount)})
        if self.expect(answer, "OK", f"credit {holder}"):
            self.model.credit(holder, amount)
            if fen(answer["output"]["balc"]) != self.model.balances[holder]:
                self.fail(f"credit {holder}: balc {answer['output']['balc']}, model {self.model.balances[holder]}")
            self.figures.credits += 1
            self.figures.fen_checked += amount

    async def run(self, killing_done: asyncio.Event, after: int) -> None:
        extra = 0
        while extra < after:
            await self.step()
            if killing_done.is_set():
                extra += 1


async def killer(switch: SwitchProcess, kills: int, rng: random.Random, uptime: tuple[float, float],
                 figures: Figures, done: asyncio.Event, progress: Progress) -> None:
    task = progress.add_task("SIGKILL and restart", total=kills)
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(*uptime))
        switch.kill()
        figures.kills += 1
        await asyncio.to_thread(switch.start)
        progress.advance(task)
    done.set()


def check_ledger(db: Path, terminals: list[CrashTerminal], figures: Figures) -> None:
    """Read the ledger file itself: each acknowledged settlement once, abandoned ones undone, balances."""
    with sqlite3.connect(db) as con:
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT setl_id, terminal_id, msgid, status, psn_no, acct, mulaid FROM settlements")}
        balances = dict(con.execute("SELECT psn_no, balc FROM people").fetchall())
    per_msgid = Counter((r[0], r[1]) for r in rows.values())
    figures.failures += [f"{k[0]} {k[1]} settled {n} times" for k, n in per_msgid.items() if n > 1]
    acked = {setl_id: (t, a) for t in terminals for setl_id, a in t.acked.items()}
    for setl_id, (terminal, a) in acked.items():
        row = rows.get(setl_id)
        if row is None or row[:4] != (terminal.id, a.msgid, a.status, a.patient) \
                or row[4:] != (a.paid.acct, a.paid.mulaid):
            figures.failures.append(f"{setl_id} acknowledged to {terminal.id} as {a} but stored as {row}")
    abandoned = {(t.id, m) for t in terminals for m in t.abandoned}
    for setl_id, row in rows.items():
        if setl_id in acked:
            continue
        if (row[0], row[1]) not in abandoned or row[2] != "reversed":
            figures.failures.append(f"{setl_id} {row} was never acknowledged and is not undone")
    for terminal in terminals:
        for psn_no, expected in terminal.model.balances.items():
            figures.fen_checked += expected
            if balances.get(psn_no) != expected:
                figures.failures.append(f"{psn_no}: ledger {balances.get(psn_no)} fen, model {expected}")


async def run_crash(kills: int = 20, terminals: int = 6, seed: int = 1, uptime: tuple[float, float] = (0.05, 1.2),
                    after: int = 5, workdir: Path | None = None, console: Console | None = None) -> Figures:
    """Run the whole test on its own mosquitto; returns the figures (``ok`` when nothing was wrong)."""
    console = console or Console(stderr=True)
    rng = random.Random(seed)
    figures = Figures()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="gongji-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db, root = workdir / "ledger.db", f"gongji-crash/{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    broker = MosquittoProcess().start()
    switch = SwitchProcess("--broker", broker.url, "--db", str(db), "--clock", "virtual", "--clock-start",
                           CLOCK_START, "--topic-root", root, "--log-level", "WARNING")
    await asyncio.to_thread(switch.start)
    fleet = [CrashTerminal(i, broker.url, root, random.Random(rng.random()), figures) for i in range(terminals)]
    try:
        for t in fleet:
            await t.client.__aenter__()
            await t.admin_client.__aenter__()
            loaded = await t.admin.request("admin.load", t.load())
            t.expect(loaded, "OK", "admin.load")
        done = asyncio.Event()
        with Progress(console=console, transient=True) as progress:
            await asyncio.gather(killer(switch, kills, rng, uptime, figures, done, progress),
                                 *(t.run(done, after) for t in fleet))
        audit = await fleet[0].admin.request("admin.audit", {})
        if not audit["output"]["ok"]:
            figures.failures.append(f"admin.audit: {audit['output']['violations']}")
    finally:
        for t in fleet:
            figures.tally.add(t.pos.tally)
            figures.tally.add(t.admin.tally)
            await t.client.__aexit__(None, None, None)
            await t.admin_client.__aexit__(None, None, None)
        if switch.proc is not None and switch.proc.poll() is None:
            switch.terminate()
        broker.stop()
    check_ledger(db, fleet, figures)
    figures.seconds = time.monotonic() - started
    return figures


def figures_table(figures: Figures) -> Table:
    table = Table(title="crash test: SIGKILL while settling", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    t = figures.tally
    for name, value in [
        ("SIGKILLs of the switch", figures.kills), ("requests (distinct msgids)", t.requests),
        ("sends", t.sends), ("retries with the same msgid", t.retries),
        ("given up and reversed (2601)", t.reversals), ("… of which had been committed", figures.abandoned_undone),
        ("settlements acknowledged", figures.settled), ("pooling prompts (retry window)", figures.prompts),
        ("pooled inside a window", figures.pooled_in_window), ("pooled automatically", figures.pooled_automatic),
        ("cancels", figures.cancels), ("reversals of acknowledged settlements", figures.reversals),
        ("credits", figures.credits), ("fen checked", f"{figures.fen_checked:,}"),
        ("wall time", f"{figures.seconds:.1f} s"), ("problems found", len(figures.failures)),
    ]:
        table.add_row(name, str(value))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs of the switch (default 50)")
    parser.add_argument("--terminals", type=int, default=6, help="POS terminals, two families each (default 6)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="where the ledger file is kept (default a new temporary dir)")
    args = parser.parse_args(argv)
    console = Console()
    figures = asyncio.run(run_crash(args.kills, args.terminals, args.seed, workdir=args.workdir, console=console))
    console.print(figures_table(figures))
    for failure in figures.failures[:20]:
        console.print(f"[red]{failure}")
    return 0 if figures.ok else 1


if __name__ == "__main__":
    sys.exit(main())
