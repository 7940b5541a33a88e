"""The transaction table: one entry per (channel, infno), and decisions run from it with a plain context."""

from __future__ import annotations

from typing import Any

import pytest

from switch.core.codes import Code
from switch.core.settlement import Original
from switch.service.clock import SystemClock, VirtualClock
from switch.service.context import Context
from switch.service.faults import FaultBook
from switch.service.transactions import TABLE
from switch.wire.inputs import CHANNELS, FaultRule
from tests.support.families import DONGYING, ZIBO, pharmacy_input
from tests.unit.core_helpers import T0, loaded


class NoReplies:
    """A switch that has answered nothing yet (what 2601 asks of the service)."""

    def original(self, sender: str, msgid: str) -> Original | None:
        return None


def context(infno: str, *, clock: Any = None, faults: FaultBook | None = None, sender: str = "T1") -> Context:
    state = loaded(ZIBO, loaded(DONGYING))
    return Context(state, infno, sender, "m1", "P1", T0, clock or VirtualClock(T0), faults or FaultBook(),
                   NoReplies())


def run(channel: str, infno: str, raw: dict[str, Any], **kw: Any) -> Any:
    entry = TABLE[(channel, infno)]
    return entry.decide(context(infno, **kw), entry.input.model_validate(raw))


def test_every_entry_is_keyed_by_its_own_channel_and_infno() -> None:
    """Keys match their entries, channels are the protocol's, an infno lives on one channel, summaries are one line."""
    assert all(key == (t.channel, t.infno) for key, t in TABLE.items())
    assert {t.channel for t in TABLE.values()} == set(CHANNELS)
    infnos = [t.infno for t in TABLE.values()]
    assert len(infnos) == len(set(infnos))
    assert all(t.summary and "\n" not in t.summary and t.outputs for t in TABLE.values())


def test_only_reads_of_the_moment_and_the_reset_are_not_recorded() -> None:
    """admin.state, admin.audit and admin.reset are decided afresh each time; every other answer is recorded."""
    assert {t.infno for t in TABLE.values() if not t.recorded} == {"admin.state", "admin.audit", "admin.reset"}
    assert [t.infno for t in TABLE.values() if t.reads_disk] == ["admin.audit"]


@pytest.mark.parametrize(("infno", "fund", "effects"), [
    ("2101", "0.00", False), ("2102", "0.00", True), ("2206", "40.00", False), ("2207", "40.00", True)])
def test_pre_settlement_and_medical_type_come_from_the_entry(infno: str, fund: str, effects: bool) -> None:
    """Pharmacy entries settle as med_type 41 (fund 0%), outpatient as 11 (fund 50%); 2101/2206 change nothing."""
    body = pharmacy_input("ZH", "80.00")
    raw = body if infno in ("2101", "2102") else {"data": body["druginfo"]}
    decision = run("pos", infno, raw)
    assert decision.code == Code.OK
    assert decision.output["setlinfo"]["fund_pay_sumamt"] == fund
    assert bool(decision.effects) is effects


def test_reversal_of_a_message_never_answered_registers_a_tombstone() -> None:
    """2601 asks the context's replies for the original; none yet: OK, reversed false, a tombstone effect."""
    decision = run("pos", "2601", {"psn_no": "ZR", "omsgid": "gone", "oinfno": "2102"})
    assert (decision.code, decision.output["reversed"], len(decision.effects)) == (Code.OK, False, 1)


def test_clock_changes_need_a_virtual_clock() -> None:
    """admin.clock on the system clock: reading is OK, moving it is CLOCK_NOT_VIRTUAL."""
    assert run("admin", "admin.clock", {}, clock=SystemClock()).code == Code.OK
    assert run("admin", "admin.clock", {"advance": "1m"}, clock=SystemClock()).code == Code.CLOCK_NOT_VIRTUAL


def test_reset_puts_back_the_fault_rules_the_switch_started_with() -> None:
    """admin.reset puts the fault book back as the switch started (--faults FILE), counters afresh; a book that
    started empty is emptied; it answers {"reset": true}."""
    book = FaultBook([FaultRule.model_validate({"action": "error", "times": 2})])
    assert book.match("pos", "T1", "2102") is not None  # one of its two hits spent
    book.replace([FaultRule.model_validate({"action": "drop_request"})])
    decision = run("admin", "admin.reset", {}, faults=book)
    assert (decision.code, decision.output) == (Code.OK, {"reset": True})
    assert book.view() == [{"match": {}, "action": "error", "times": 2, "left": 2}]
    empty = FaultBook()
    empty.replace([FaultRule.model_validate({"action": "error"})])
    run("admin", "admin.reset", {}, faults=empty)
    assert empty.view() == []
