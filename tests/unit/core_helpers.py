"""Build core states for unit tests through the core's own admin.load, at a fixed instant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switch.core import admin as admin_core
from switch.core.model import Decision, State, apply
from switch.core.policy import PolicyBook, packaged_policies
from switch.core.settlement import SettleCommand, settle
from switch.service.clock import CST
from switch.wire.inputs import Load, OutpatientSettle, PharmacySettle
from tests.support.families import pharmacy_input

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=CST)


def new_state() -> State:
    base = tuple(packaged_policies())
    return State(policies=PolicyBook(base), base_policies=base)


def commit(state: State, decision: Decision) -> Decision:
    for effect in decision.effects:
        apply(state, effect)
    return decision


def loaded(family: dict[str, Any], state: State | None = None) -> State:
    state = state or new_state()
    decision = commit(state, admin_core.load(state, Load.model_validate(family), T0))
    assert decision.code == "OK", decision
    return state


def swipe(state: State, psn_no: str, amount: str, at: datetime = T0, *, infno: str = "2102", flag: str = "1",
          fixmedins: str = "P1", terminal: str = "T1", msgid: str = "m", apply_effects: bool = True,
          **extra: Any) -> Decision:
    body = pharmacy_input(psn_no, amount, flag, **extra)
    if infno in ("2206", "2207"):
        model: Any = OutpatientSettle.model_validate({"data": body["druginfo"]})
        data = model.data
    else:
        data = PharmacySettle.model_validate(body).druginfo
    # What the transaction table passes in for each entry: pre-settlement, and 41 pharmacy / 11 outpatient.
    pre, med_type = infno in ("2101", "2206"), "11" if infno in ("2206", "2207") else "41"
    decision = settle(state, SettleCommand(infno, terminal, msgid, fixmedins, data, pre, med_type), at)
    return commit(state, decision) if apply_effects else decision


def balances(state: State) -> dict[str, str]:
    return {p.psn_no: f"{p.balc / 100:.2f}" for p in state.people.values()}
