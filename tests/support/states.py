"""Core states built directly for pure tests: people, balances and bindings, no broker and no store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from switch.core import member_app as app
from switch.core.model import Binding, Decision, Move, Person, PutBinding, PutPerson, State, apply
from switch.core.money import format_fen
from switch.core.policy import PolicyBook, packaged_policies
from switch.core.settlement import SettleCommand, settle
from switch.wire.inputs import Bind, SettleData, Unbind

__all__ = ["NOW", "add_people", "commit", "do_bind", "do_unbind", "employee", "family", "make_state",
           "pharmacy", "resident"]

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=8)))
_POLICIES = tuple(packaged_policies())


def employee(psn_no: str, admdvs: str = "370500", balc: int = 0, status: str = "active") -> Person:
    """An employee-insured (310) person; ``balc`` in fen."""
    return Person(psn_no, f"测试{psn_no}", "310", admdvs, status, {"01": f"QR{psn_no}"}, balc)


def resident(psn_no: str, admdvs: str = "370500", status: str = "active") -> Person:
    """A resident-insured (390) person: no personal account."""
    return Person(psn_no, f"测试{psn_no}", "390", admdvs, status, {"01": f"QR{psn_no}"})


def add_people(state: State, *people: Person) -> State:
    """Put ``people`` (and their certificates) into ``state``, their balances funded through the ledger."""
    for p in people:
        balc, p.balc = p.balc, 0
        apply(state, PutPerson(p))
        if balc:
            apply(state, Move("@load", p.psn_no, balc, "load", p.psn_no, NOW))
    return state


def make_state(*people: Person, bindings: tuple[tuple[str, str, str], ...] = ()) -> State:
    """A state holding ``people`` and the (holder, relative, rltn) ``bindings``."""
    state = add_people(State(policies=PolicyBook(_POLICIES), base_policies=_POLICIES), *people)
    for holder, relative, rltn in bindings:
        apply(state, PutBinding(Binding(holder, relative, rltn, None, 0, NOW)))
    return state


def family() -> State:
    """Dongying holder DH (500.00) with DR (resident child) and DE (employee spouse, 30.00); OH holds OR;
    X1 (employee) and X2 (resident) are free; ZH (Zibo, 200.00) holds ZR (resident parent)."""
    return make_state(
        employee("DH", balc=50_000), resident("DR"), employee("DE", balc=3_000),
        employee("OH", balc=10_000), resident("OR"), employee("X1"), resident("X2"),
        employee("ZH", "370300", balc=20_000), resident("ZR", "370300"),
        bindings=(("DH", "DR", "child"), ("DH", "DE", "spouse"), ("OH", "OR", "spouse"),
                  ("ZH", "ZR", "parent")),
    )


def commit(state: State, decision: Decision) -> Decision:
    """Apply a decision's effects, as the service does after deciding."""
    for effect in decision.effects:
        apply(state, effect)
    return decision


def pharmacy(state: State, psn_no: str, fen: int, now: datetime = NOW, msgid: str = "M1",
             fixmedins_code: str = "P1", terminal: str = "T1") -> Decision:
    """Settle a 2102 for ``psn_no`` with their own certificate, accounts used, and commit it."""
    data: dict[str, Any] = {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": f"QR{psn_no}",
                            "medfee_sumamt": format_fen(fen), "acct_used_flag": "1"}
    cmd = SettleCommand("2102", terminal, msgid, fixmedins_code, SettleData.model_validate(data), False, "41")
    return commit(state, settle(state, cmd, now))


def do_bind(state: State, holder: str, relative: str, rltn: str = "child") -> Decision:
    """app.bind with face verification, committed."""
    cmd = Bind.model_validate({"relative_psn_no": relative, "rltn": rltn, "face_verified": True})
    return commit(state, app.bind(state, holder, cmd, NOW))


def do_unbind(state: State, holder: str, relative: str) -> Decision:
    """app.unbind with face verification, committed."""
    return commit(state, app.unbind(state, holder, Unbind(relative_psn_no=relative, face_verified=True), NOW))
