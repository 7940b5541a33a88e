"""Hypothesis state machine over the real service and a real SQLite file: the ledger's invariants hold at every step.

Random binding (admin.load; app.bind and app.unbind as soon as the app channel registers them),
crediting, suspension, settlements inside and outside retry windows, cancels, reversals (also of
messages not yet seen), clock moves, replays and simultaneous duplicate deliveries, and restarts
from the file. After every step: money is conserved, no balance is
negative; every pooled payment respected the cap and, under a retry-window policy, used an open
window that then closed and never paid again; a replay answers the same bytes and changes nothing;
a restart from the file gives back the same state. The clinic's visit chain joins in
(``tests/support/visit_machine.py``): a batch is paid at most once, a cancel frees it, no fee line
counts twice, and 3201 balances with the ledger's own totals.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import switch.bootstrap  # noqa: F401 - the composition root registers the app channel's handlers
from switch.core.model import Settlement, State
from switch.core.money import format_fen
from switch.core.policy import packaged_policies
from switch.service.clock import VirtualClock
from switch.service.handling import Reply, SettlementSwitch
from switch.service.transactions import TABLE
from switch.store.archive import LedgerArchive
from switch.store.sqlite import SqliteStore
from tests.support.direct import START
from tests.support.families import cert, person
from tests.support.visit_machine import VisitRules

HOLDERS = ("H1", "H2")  # H1 in Dongying (retry window), H2 in Zibo (automatic)
PATIENTS = ("P1", "P2", "P3", "P4", "P5")
EVERYONE = HOLDERS + PATIENTS
EMPLOYEES = ("H1", "H2", "P1", "P3")
CAST = {"H1": ("370500", "310"), "H2": ("370300", "310"), "P1": ("370500", "310"), "P2": ("370500", "390"),
        "P3": ("370300", "310"), "P4": ("370300", "390"), "P5": ("370100", "390")}
TERMINALS = ("T1", "T2")
INSTITUTIONS = ("F1", "F2")

amounts = st.integers(min_value=1, max_value=30_000).map(lambda fen: format_fen(fen))


def fen(text: str) -> int:
    return int(Decimal(text) * 100)


@dataclass(frozen=True)
class Sent:
    channel: str
    sender: str
    payload: bytes
    answer: bytes


def snapshot(state: State, setl_ids: Iterable[str]) -> dict[str, Any]:
    """Everything that must survive a restart and must not change on a replay, as plain values.

    Settlements and spending rows are read where they are, memory or disk, without bringing one back into
    memory: a history run with little memory must decide on what the disk holds, not on what this read.
    """
    settlements = {s: state.settlements.peek(s) for s in setl_ids}
    chains = state.visits.chains()
    return {
        "people": {p: (x.balc, x.status) for p, x in state.people.items()},
        "externals": dict(state.externals),
        "bindings": {r: (b.holder, b.rltn, b.cap, b.used) for r, b in state.binding_of.items()},
        "windows": {k: (w.holder, w.opened_at, w.expires_at) for k, w in state.windows.items()},
        "settlements": {s: None if x is None else (x.status, x.psn_no, x.acct, x.mulaid, x.cash, x.fund, x.holder,
                                                   x.terminal_id, x.msgid)
                        for s, x in settlements.items()},
        "counted": (len(state.settlements), state.settlements.settled, dict(state.settlements.days)),
        "records": {h: [(r.rec_id, r.setl_id, r.amount) for r in state.records.page(h, None, 1_000_000)[0]]
                    for h in EVERYONE},
        "tombstones": dict(state.tombstones),
        "visits": {v.mdtrt_id: (v.psn_no, v.status) for v, _ in chains},
        "batches": {(b.mdtrt_id, b.chrg_bchno): (b.status, b.setl_id, b.total) for _, batches in chains
                    for b in batches},
        "visits counted": len(state.visits),
    }


class LedgerMachine(VisitRules, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="gongji-machine-"))
        self.loop = asyncio.new_event_loop()
        self.clock = VirtualClock(START)
        self.exact_now: datetime | None = None  # the clock's time to the microsecond, once moved by a fraction
        self.switch = self._new_switch()
        self.run(self.switch.start())
        self.counter = 0
        self.sent: list[Sent] = []
        self.settlements: dict[str, tuple[str, str]] = {}  # setl_id -> (psn_no, terminal)
        self.settle_msgids: list[tuple[str, str, str]] = []  # (terminal, msgid, infno) of settlements sent
        self.tombstoned: list[tuple[str, str, str]] = []  # reversals sent before their original
        self.windows_opened: dict[tuple[str, str], int] = {}  # how many prompts opened a window per key
        self.windows_paid: set[tuple[str, str, int]] = set()
        self.last_decline: tuple[str, str, str, str, str, str, bool] | None = None

    # --- plumbing --------------------------------------------------------------------------------

    def _new_switch(self) -> SettlementSwitch:
        return SettlementSwitch(SqliteStore(self.dir / "ledger.db"), self.clock, packaged_policies())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @property
    def state(self) -> State:
        assert self.switch.state is not None
        return self.switch.state

    def msgid(self) -> str:
        self.counter += 1
        return f"m{self.counter:06d}"

    def envelope(self, channel: str, infno: str, input: dict[str, Any], msgid: str, fixmedins: str = "F1") -> bytes:
        env: dict[str, Any] = {"infno": infno, "msgid": msgid, "input": input}
        if channel == "pos":
            env["fixmedins_code"] = fixmedins
        return json.dumps(env).encode()

    def handle(self, channel: str, sender: str, payload: bytes) -> Reply:
        reply: Reply = self.run(self.switch.handle(channel, sender, payload))
        return reply

    def handle_at_once(self, channel: str, sender: str, payload: bytes, times: int) -> list[bytes]:
        """``payload`` delivered ``times`` times at once; the answers' bytes."""

        async def together() -> list[bytes]:
            replies = await asyncio.gather(*(self.switch.handle(channel, sender, payload) for _ in range(times)))
            return [r.payload for r in replies]

        return list(self.run(together()))

    def send(self, channel: str, sender: str, infno: str, input: dict[str, Any], msgid: str | None = None,
             fixmedins: str = "F1", invalid: bool = False) -> dict[str, Any]:
        """``invalid``: the rule expects INVALID_REQUEST may be the answer (and checks which)."""
        payload = self.envelope(channel, infno, input, msgid or self.msgid(), fixmedins)
        reply = self.handle(channel, sender, payload)
        answer = json.loads(reply.payload, parse_float=Decimal)
        assert answer["code"] not in ("INTERNAL_ERROR", *(() if invalid else ("INVALID_REQUEST",))), answer
        if infno not in ("admin.state", "admin.audit"):
            self.sent.append(Sent(channel, sender, payload, reply.payload))
        return dict(answer)

    def setl(self, setl_id: str) -> Settlement:
        """A settlement, from memory or disk, without bringing it back into memory."""
        found = self.state.settlements.peek(setl_id)
        assert found is not None, setl_id
        return found

    def balance(self, psn_no: str) -> int:
        return self.state.people[psn_no].balc

    # --- rules -----------------------------------------------------------------------------------

    @initialize(balances=st.fixed_dictionaries({p: st.integers(0, 50_000) for p in EMPLOYEES}),
                bound=st.fixed_dictionaries({p: st.booleans() for p in PATIENTS}),
                caps=st.fixed_dictionaries({p: st.none() | st.integers(0, 20_000) for p in PATIENTS}))
    def load_families(self, balances: dict[str, int], bound: dict[str, bool], caps: dict[str, int | None]) -> None:
        """Both families at once, so pooling is possible from the first step (P1, P2, P5 under H1; P3, P4 under H2)."""
        people = [person(p, *CAST[p][:1], balc=format_fen(balances[p]) if p in balances else None,
                         insutype=CAST[p][1]) for p in EVERYONE]
        bindings = [{"holder_psn_no": "H1" if p in ("P1", "P2", "P5") else "H2", "relative_psn_no": p, "rltn": "child",
                     **({"cap": format_fen(cap)} if (cap := caps[p]) is not None else {})}
                    for p in PATIENTS if bound[p]]
        assert self.send("admin", "admin", "admin.load", {"people": people, "bindings": bindings})["code"] == "OK"

    @rule(holder=st.sampled_from(HOLDERS), relative=st.sampled_from(EVERYONE),
          cap=st.none() | st.integers(0, 20_000))
    def bind(self, holder: str, relative: str, cap: int | None) -> None:
        binding: dict[str, Any] = {"holder_psn_no": holder, "relative_psn_no": relative, "rltn": "child"}
        if cap is not None:
            binding["cap"] = format_fen(cap)
        answer = self.send("admin", "admin", "admin.load", {"bindings": [binding]})
        event(f"bind {answer['code']}")
        if answer["code"] == "OK":
            assert self.state.binding_of[relative].holder == holder

    @precondition(lambda self: ("app", "app.bind") in TABLE)
    @rule(holder=st.sampled_from(HOLDERS), relative=st.sampled_from(EVERYONE))
    def bind_in_the_app(self, holder: str, relative: str) -> None:
        """The member app's bind (once the app channel is there): the same binding rules as admin.load."""
        answer = self.send("app", holder, "app.bind", {"relative_psn_no": relative, "rltn": "child",
                                                       "face_verified": True})
        if answer["code"] == "OK":
            assert self.state.binding_of[relative].holder == holder

    @precondition(lambda self: ("app", "app.unbind") in TABLE)
    @rule(relative=st.sampled_from(PATIENTS))
    def unbind(self, relative: str) -> None:
        binding = self.state.binding_of.get(relative)
        holder = binding.holder if binding is not None else "H1"
        answer = self.send("app", holder, "app.unbind", {"relative_psn_no": relative, "face_verified": True})
        if answer["code"] == "OK":
            assert relative not in self.state.binding_of
            assert not any(k[0] == relative for k in self.state.windows)

    @rule(psn_no=st.sampled_from(EMPLOYEES), amount=amounts)
    def credit(self, psn_no: str, amount: str) -> None:
        before = self.balance(psn_no)
        assert self.send("admin", "admin", "admin.credit", {"psn_no": psn_no, "amount": amount})["code"] == "OK"
        assert self.balance(psn_no) == before + fen(amount)

    @rule(holder=st.sampled_from(HOLDERS), status=st.sampled_from(["active", "suspended"]))
    def set_status(self, holder: str, status: str) -> None:
        assert self.send("admin", "admin", "admin.set_status", {"psn_no": holder, "status": status})["code"] == "OK"
        if status == "suspended":
            relatives = set(self.state.relatives_of.get(holder, {}))
            assert not any(k[0] in relatives for k in self.state.windows)

    @rule(seconds=st.sampled_from([1, 60, 299.999, 300, 301, 900]) | st.floats(0, 400))
    def move_clock(self, seconds: float) -> None:
        # The clock moves by exactly what it is told and is read in whole milliseconds (what answers show).
        exact = self.exact_now or self.clock.now()
        assert self.send("admin", "admin", "admin.clock", {"advance": seconds})["code"] == "OK"
        exact += timedelta(microseconds=int(Decimal(str(seconds)) * 1_000_000))
        self.exact_now = exact
        assert self.clock.now() == exact - timedelta(microseconds=exact.microsecond % 1000)
        assert all(self.clock.now() < w.expires_at for w in self.state.windows.values())

    @rule(patient=st.sampled_from(EVERYONE), amount=amounts, terminal=st.sampled_from(TERMINALS),
          fixmedins=st.sampled_from(INSTITUTIONS), infno=st.sampled_from(["2102", "2102", "2207", "2101"]),
          flag=st.sampled_from(["1", "1", "1", "0"]), reuse_tombstone=st.booleans())
    def settle(self, patient: str, amount: str, terminal: str, fixmedins: str, infno: str, flag: str,
               reuse_tombstone: bool) -> None:
        body = {"psn_no": patient, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert(patient),
                "medfee_sumamt": amount, "acct_used_flag": flag}
        input = {"data": body} if infno == "2207" else {"druginfo": body}
        msgid = None
        tomb = [t for t in self.tombstoned if t[0] == terminal and t[2] == infno]
        if reuse_tombstone and tomb:
            msgid = tomb[0][1]
            self.tombstoned.remove(tomb[0])
        binding = self.state.binding_of.get(patient)
        holder = binding.holder if binding is not None else None
        cap_left = None if binding is None or binding.cap is None else binding.cap - binding.used
        key = (patient, fixmedins)
        window = self.state.windows.get(key)
        window_open = window is not None and self.clock.now() < window.expires_at
        before = snapshot(self.state, self.settlements)
        msgid = msgid or self.msgid()
        answer = self.send("pos", terminal, infno, input, msgid, fixmedins)
        if infno in ("2102", "2207"):
            self.settle_msgids.append((terminal, msgid, infno))
        moved = snapshot(self.state, self.settlements)["people"] != before["people"]
        event(f"settle {infno} {answer['code']}")
        if answer["code"] != "OK" or infno == "2101":
            assert not moved, answer
            if answer["code"] == "POOLING_AVAILABLE" and infno != "2101":
                assert self.state.windows[key].opened_at == self.clock.now()
                self.pooled_window_bookkeeping(patient, fixmedins, answer)
                self.last_decline = (patient, amount, terminal, fixmedins, infno, flag, False)
            return
        info = answer["output"]["setlinfo"]
        fee, fund, acct, mulaid, cash = (fen(info[k]) for k in (
            "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay"))
        assert fund + acct + mulaid + cash == fee and min(fund, acct, mulaid, cash) >= 0
        assert self.balance(patient) == before["people"][patient][0] - acct
        self.settlements[info["setl_id"]] = (patient, terminal)
        if mulaid:
            assert holder is not None and info["mulaid_psn_no"] == holder
            assert before["people"][holder][1] == "active"
            if holder != patient:
                assert self.balance(holder) == before["people"][holder][0] - mulaid
            assert cap_left is None or mulaid <= cap_left, "cap exceeded"
            if self.state.policy_for(self.state.people[holder]).flow == "retry_window":
                assert window_open and window is not None, "pooled without an open window"
                assert key not in self.state.windows, "window still open after paying"
            self.pooled_window_bookkeeping(patient, fixmedins, answer)

    def pooled_window_bookkeeping(self, patient: str, fixmedins: str, answer: dict[str, Any]) -> None:
        """Count the windows a decline opens, and check each pays at most once (2102 or a visit's 2207)."""
        key = (patient, fixmedins)
        if answer["code"] == "POOLING_AVAILABLE":
            self.windows_opened[key] = self.windows_opened.get(key, 0) + 1
            return
        info = (answer.get("output") or {}).get("setlinfo") or {}
        holder = info.get("mulaid_psn_no")
        if answer["code"] != "OK" or holder is None or fen(info["acct_mulaid_pay"]) == 0:
            return
        if self.state.policy_for(self.state.people[holder]).flow == "retry_window":
            paid = (patient, fixmedins, self.windows_opened.get(key, 0))
            assert paid not in self.windows_paid, "a window paid twice"
            self.windows_paid.add(paid)
            event("pooled through a retry window")
        else:
            event("pooled automatically")

    @rule(patient=st.sampled_from(["P2", "P4", "P5"]), amount=amounts, fixmedins=st.sampled_from(INSTITUTIONS))
    def relative_without_account_buys(self, patient: str, amount: str, fixmedins: str) -> None:
        """The case pooling exists for: a resident relative with no account of their own at the pharmacy."""
        self.settle(patient, amount, "T1", fixmedins, "2102", "1", False)

    @precondition(lambda self: self.last_decline is not None)
    @rule()
    def swipe_again(self) -> None:
        """The patient swipes again after a decline: inside the window it pools, after it prompts anew."""
        assert self.last_decline is not None
        self.settle(*self.last_decline)

    @precondition(lambda self: bool(self.settlements))
    @rule(data=st.data(), via=st.sampled_from(["2103", "2208"]))
    def cancel(self, data: st.DataObject, via: str) -> None:
        setl_id = data.draw(st.sampled_from(sorted(self.settlements)))
        patient, terminal = self.settlements[setl_id]
        settled = self.setl(setl_id)
        was = settled.status
        before = snapshot(self.state, self.settlements)["people"]
        # from the institution that settled (another one's cancel is SETTLEMENT_NOT_FOUND)
        answer = self.send("pos", terminal, via, {"setl_id": setl_id, "psn_no": patient},
                           fixmedins=settled.fixmedins_code)
        if was != "settled":
            assert answer["code"] == "ALREADY_CANCELLED" and snapshot(self.state, self.settlements)["people"] == before
            return
        assert answer["code"] == "OK" and self.setl(setl_id).status == "cancelled"
        assert self.balance(patient) == before[patient][0] + settled.acct
        if settled.holder is not None and settled.holder != patient:
            assert self.balance(settled.holder) == before[settled.holder][0] + settled.mulaid

    @rule(data=st.data(), terminal=st.sampled_from(TERMINALS), unseen=st.booleans())
    def reverse(self, data: st.DataObject, terminal: str, unseen: bool) -> None:
        mine = [m for m in self.settle_msgids if m[0] == terminal]
        if unseen or not mine:
            target = (terminal, self.msgid(), data.draw(st.sampled_from(["2102", "2207"])))
            self.tombstoned.append(target)
        else:
            target = data.draw(st.sampled_from(mine))
        patient = data.draw(st.sampled_from(EVERYONE))
        answer = self.send("pos", terminal, "2601", {"psn_no": patient, "omsgid": target[1], "oinfno": target[2]})
        assert answer["code"] in ("OK", "SETTLEMENT_NOT_FOUND")
        event(f"reverse {answer['code']} reversed={answer['output'].get('reversed')}")
        if answer["code"] == "OK" and answer["output"]["reversed"]:
            setl_id = answer["output"]["setlinfo"]["setl_id"]
            assert self.setl(setl_id).status == "reversed"

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A duplicate delivery, any time later: the first answer byte for byte, and nothing changes."""
        sent = data.draw(st.sampled_from(self.sent))
        before = snapshot(self.state, self.settlements)
        now = self.clock.now()
        reply = self.handle(sent.channel, sent.sender, sent.payload)
        assert reply.payload == sent.answer
        assert snapshot(self.state, self.settlements) == before and self.clock.now() == now

    @rule(patient=st.sampled_from(PATIENTS), amount=amounts, terminal=st.sampled_from(TERMINALS))
    def simultaneous_duplicates(self, patient: str, amount: str, terminal: str) -> None:
        """The same new message delivered three times at once is decided once; all three get the same bytes."""
        body = {"psn_no": patient, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert(patient),
                "medfee_sumamt": amount, "acct_used_flag": "1"}
        msgid = self.msgid()
        payload = self.envelope("pos", "2102", {"druginfo": body}, msgid)
        before = len(self.state.settlements)
        answers = self.handle_at_once("pos", terminal, payload, 3)
        assert answers[0] == answers[1] == answers[2]
        assert len(self.state.settlements) - before <= 1
        self.sent.append(Sent("pos", terminal, payload, answers[0]))
        self.settle_msgids.append((terminal, msgid, "2102"))
        answer = json.loads(answers[0])
        if answer["code"] == "POOLING_AVAILABLE":
            self.windows_opened[(patient, "F1")] = self.windows_opened.get((patient, "F1"), 0) + 1
        if answer["code"] == "OK":
            self.settlements[answer["output"]["setlinfo"]["setl_id"]] = (patient, terminal)

    @rule()
    def restart(self) -> None:
        """Stop the service and start a new one from the same file: the same state, and the books balance."""
        before = snapshot(self.state, self.settlements)
        self.run(self.switch.stop())
        self.switch = self._new_switch()
        self.run(self.switch.start())
        assert snapshot(self.state, self.settlements) == before
        audit = self.send("admin", "admin", "admin.audit", {})
        assert audit["output"]["ok"], audit["output"]["violations"]

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def money_is_conserved_and_never_negative(self) -> None:
        if self.switch.state is None:
            return
        assert sum(p.balc for p in self.state.people.values()) + sum(self.state.externals.values()) == 0
        assert all(p.balc >= 0 for p in self.state.people.values())
        assert all(b.used >= 0 for b in self.state.binding_of.values())

    def teardown(self) -> None:
        try:
            if self.switch.state is not None:
                audit = self.send("admin", "admin", "admin.audit", {})
                assert audit["output"]["ok"], audit["output"]["violations"]
        finally:
            self.stop()
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self) -> None:
        self.run(self.switch.stop())


# CI runs 80 random histories of up to 50 steps; GONGJI_MACHINE_EXAMPLES=2000 runs a longer search.
LedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("GONGJI_MACHINE_EXAMPLES", "80")), stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.__doc__ = "Core and store together keep every ledger invariant under random operations and restarts."


class SmallMemoryLedgerMachine(LedgerMachine):
    """The same histories with two of each kind of traffic in memory: every older settlement, spending row,
    answer, visit (with its batches) and sign-in is read back from the file when a request names it, every
    invariant still holds, and every answer is byte for byte the one of a switch that keeps all of it in
    memory, sent the same requests beside it (on a file of its own, restarted with it)."""

    def __init__(self) -> None:
        super().__init__()
        self.whole_clock = VirtualClock(START)
        self.whole = self._whole_switch()
        self.run(self.whole.start())

    def _new_switch(self) -> SettlementSwitch:
        return SettlementSwitch(SqliteStore(self.dir / "ledger.db", keep=2), self.clock, packaged_policies())

    def _whole_switch(self) -> SettlementSwitch:
        return SettlementSwitch(SqliteStore(self.dir / "whole.db", keep=None), self.whole_clock, packaged_policies())

    def handle(self, channel: str, sender: str, payload: bytes) -> Reply:
        reply = super().handle(channel, sender, payload)
        whole = self.run(self.whole.handle(channel, sender, payload))
        assert reply.payload == whole.payload, (reply.payload, whole.payload)
        assert reply.events == whole.events
        return reply

    def handle_at_once(self, channel: str, sender: str, payload: bytes, times: int) -> list[bytes]:
        answers = super().handle_at_once(channel, sender, payload, times)

        async def together() -> list[bytes]:
            replies = await asyncio.gather(*(self.whole.handle(channel, sender, payload) for _ in range(times)))
            return [r.payload for r in replies]

        assert answers == self.run(together())
        return answers

    @rule(family=st.none() | st.sampled_from(HOLDERS))
    def look(self, family: str | None) -> None:
        """admin.state lists every visit and batch, also those only the file holds: the same as all in memory."""
        self.send("admin", "admin", "admin.state", {} if family is None else {"psn_no": family})

    @rule()
    def restart(self) -> None:
        super().restart()
        self.run(self.whole.stop())
        self.whole = self._whole_switch()
        self.run(self.whole.start())

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.run(self.whole.stop())

    @invariant()
    def little_is_kept_in_memory(self) -> None:
        if self.switch.state is None:
            return
        state = self.state
        assert len(state.settlements) == len(self.settlements)  # every settlement made is counted
        assert len(state.visits) == len(getattr(self, "visits_made", ()))  # every visit registered too
        assert len(state.sign_ins) == len(getattr(self, "signed", ()))
        # Between steps every commit is durable (the machine's own reads may have brought some back): two of each.
        for book in state.books():
            book.durable(book.seq)
        assert state.settlements.in_memory <= 2 and len(state.records) <= 2
        assert state.visits.in_memory <= 2 and state.sign_ins.in_memory <= 2
        archive = self.switch.store.archive
        if isinstance(archive, LedgerArchive) and archive.reads:
            event("read back from the file")


SmallMemoryLedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("GONGJI_MACHINE_EXAMPLES", "40")), stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestSmallMemoryLedgerMachine = SmallMemoryLedgerMachine.TestCase
TestSmallMemoryLedgerMachine.__doc__ = ("With two of each kind of traffic in memory, the rest read back from the "
                                        "file, every ledger invariant holds as with all of it in memory.")
