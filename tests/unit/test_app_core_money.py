"""The member app's money rules in the pure core: caps, pooled-spending records, premiums, suspension."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switch.core import admin as admin_core
from switch.core import member_app as app
from switch.core.codes import Code
from switch.core.model import Decision, OpenWindow, PutPolicy, State, Window, apply
from switch.core.money import format_fen
from switch.core.settlement import Original, cancel, reverse
from switch.wire.inputs import Cancel, PayPremium, Records, Reverse, SetCap, SetStatus
from tests.support.states import (
    NOW,
    add_people,
    commit,
    do_bind,
    do_unbind,
    employee,
    family,
    make_state,
    pharmacy,
    resident,
)

AT_P1 = {"terminal_id": "T1", "fixmedins_code": "P1"}  # a cancel from the institution that settled


def _pay(d: Decision) -> tuple[str, str]:
    info = (d.output or {})["setlinfo"]
    return info["acct_mulaid_pay"], info["psn_cash_pay"]


def _cap(state: State, relative: str, fen: int | None) -> Decision:
    cap = None if fen is None else format_fen(fen)  # wire amounts are yuan; the model turns them into fen
    cmd = SetCap.model_validate({"relative_psn_no": relative, "cap": cap})
    return commit(state, app.set_cap(state, "ZH", cmd, NOW))


# --- caps ------------------------------------------------------------------------------------


def test_cap_is_cumulative_per_relative() -> None:
    """A 50.00 cap lets ZR take 30.00, then 20.00 of a 30.00 bill, then nothing: ZH pays 50.00 in all."""
    state = family()
    assert (_cap(state, "ZR", 5_000).output or {})["remaining"] == "50.00"
    assert _pay(pharmacy(state, "ZR", 3_000, msgid="A")) == ("30.00", "0.00")
    assert _pay(pharmacy(state, "ZR", 3_000, msgid="B")) == ("20.00", "10.00")
    assert _pay(pharmacy(state, "ZR", 1_000, msgid="C")) == ("0.00", "10.00")
    assert (state.binding_of["ZR"].used, state.people["ZH"].balc) == (5_000, 15_000)


def test_cap_of_one_relative_does_not_limit_another() -> None:
    """Caps are per relative: ZR's spent cap leaves the new relative ZS free to pool."""
    state = family()
    add_people(state, resident("ZS", "370300"))
    do_bind(state, "ZH", "ZS")
    _cap(state, "ZR", 1_000)
    assert _pay(pharmacy(state, "ZR", 3_000, msgid="A")) == ("10.00", "20.00")
    assert _pay(pharmacy(state, "ZS", 3_000, msgid="B")) == ("30.00", "0.00")


def test_cancel_and_reversal_restore_cap_usage() -> None:
    """Cancelling or reversing a capped pooled settlement gives its amount back to the cap."""
    state = family()
    _cap(state, "ZR", 5_000)
    first = pharmacy(state, "ZR", 3_000, msgid="A")
    second = pharmacy(state, "ZR", 3_000, msgid="B")
    assert state.binding_of["ZR"].used == 5_000
    commit(state, cancel(state, Cancel(setl_id=first.setl_id or "", psn_no="ZR"), "2103", NOW, **AT_P1))
    assert state.binding_of["ZR"].used == 2_000
    commit(state, reverse(state, Reverse(psn_no="ZR", omsgid="B", oinfno="2102"), "T1",
                          Original("2102", "OK", second.setl_id), NOW))
    assert (state.binding_of["ZR"].used, state.people["ZH"].balc) == (0, 20_000)
    assert _pay(pharmacy(state, "ZR", 6_000, msgid="C")) == ("50.00", "10.00")


def test_cap_below_used_stops_pooling_and_removing_it_restores() -> None:
    """A cap under what is used answers remaining 0.00 and stops pooling; cap null removes the limit."""
    state = family()
    pharmacy(state, "ZR", 3_000, msgid="A")
    lowered = _cap(state, "ZR", 1_000)
    assert ((lowered.output or {})["used"], (lowered.output or {})["remaining"]) == ("30.00", "0.00")
    assert _pay(pharmacy(state, "ZR", 1_000, msgid="B")) == ("0.00", "10.00")
    removed = _cap(state, "ZR", None)
    assert ((removed.output or {})["cap"], (removed.output or {})["remaining"]) == (None, None)
    assert _pay(pharmacy(state, "ZR", 1_000, msgid="C")) == ("10.00", "0.00")


def test_zero_cap_forbids_pooling() -> None:
    """cap 0.00 is a valid cap: the relative may spend nothing from the holder."""
    state = family()
    _cap(state, "ZR", 0)
    assert _pay(pharmacy(state, "ZR", 1_000)) == ("0.00", "10.00")


@pytest.mark.parametrize(("caller", "relative", "expected"), [
    pytest.param("NOBODY", "ZR", Code.PERSON_NOT_FOUND, id="unknown-caller"),
    pytest.param("ZH", "X2", Code.BINDING_NOT_FOUND, id="not-bound"),
    pytest.param("DH", "ZR", Code.NOT_HOLDER, id="another-holder"),
    pytest.param("ZR", "ZR", Code.NOT_HOLDER, id="relative-own-cap"),
])
def test_set_cap_refusals(caller: str, relative: str, expected: Code) -> None:
    """Only the holder of the binding sets its cap."""
    decision = app.set_cap(family(), caller, SetCap(relative_psn_no=relative, cap=100), NOW)
    assert (decision.code, decision.effects) == (expected, ())


# --- records ---------------------------------------------------------------------------------


def _history(state: State) -> list[str]:
    """ZR pools 10.00, 20.00, 30.00 from ZH, then the 20.00 is cancelled: four rows, ids 1..4."""
    setl = [pharmacy(state, "ZR", fen, now=NOW + timedelta(minutes=i), msgid=f"M{i}", fixmedins_code=f"P{i}")
            for i, fen in enumerate((1_000, 2_000, 3_000))]
    commit(state, cancel(state, Cancel(setl_id=setl[1].setl_id or "", psn_no="ZR"), "2103",
                         NOW + timedelta(minutes=9), **AT_P1))
    return [s.setl_id or "" for s in setl]


def test_records_newest_first_with_refunds_negative() -> None:
    """app.records lists the holder's pooled spending newest first; the cancel is a -20.00 row."""
    state = family()
    setl = _history(state)
    out = app.records(state, "ZH", Records(), NOW).output or {}
    rows = [(r["rec_id"], r["setl_id"], r["psn_no"], r["amount"], r["fixmedins_code"])
            for r in out["records"]]
    assert rows == [
        (4, setl[1], "ZR", "-20.00", "P1"), (3, setl[2], "ZR", "30.00", "P2"),
        (2, setl[1], "ZR", "20.00", "P1"), (1, setl[0], "ZR", "10.00", "P0")]
    assert out["records"][0]["time"] == "2026-11-25T10:09:00.000+08:00"
    assert out["next_before"] is None


def test_records_pages_by_before() -> None:
    """limit 3 gives rows 4..2 and next_before 2; before 2 gives row 1 and no next page."""
    state = family()
    _history(state)
    first = app.records(state, "ZH", Records(limit=3), NOW).output or {}
    assert ([r["rec_id"] for r in first["records"]], first["next_before"]) == ([4, 3, 2], 2)
    rest = app.records(state, "ZH", Records(limit=3, before=2), NOW).output or {}
    assert ([r["rec_id"] for r in rest["records"]], rest["next_before"]) == ([1], None)
    exact = app.records(state, "ZH", Records(limit=2, before=3), NOW).output or {}
    assert ([r["rec_id"] for r in exact["records"]], exact["next_before"]) == ([2, 1], None)
    assert (app.records(state, "ZH", Records(before=1), NOW).output or {})["records"] == []


@pytest.mark.parametrize(("caller", "expected"), [("ZR", Code.OK), ("X1", Code.OK),
                                                  ("NOBODY", Code.PERSON_NOT_FOUND)])
def test_records_of_non_holders_are_empty(caller: str, expected: Code) -> None:
    """A relative or a stranger sees an empty list (nothing pooled from them); unknown: PERSON_NOT_FOUND."""
    state = family()
    _history(state)
    decision = app.records(state, caller, Records(), NOW)
    assert decision.code is expected
    if expected is Code.OK:
        assert decision.output == {"records": [], "next_before": None}


def test_records_outlive_the_binding() -> None:
    """The holder keeps the history of pooled spending after unbinding the relative."""
    state = family()
    _history(state)
    do_unbind(state, "ZH", "ZR")
    assert len((app.records(state, "ZH", Records(), NOW).output or {})["records"]) == 4


# --- premiums --------------------------------------------------------------------------------


def _premium(state: State, caller: str = "ZH", relative: str = "ZR", year: int = 2027,
             fen: int = 38_000) -> Decision:
    cmd = PayPremium.model_validate({"relative_psn_no": relative, "year": year, "amount": format_fen(fen)})
    return commit(state, app.pay_premium(state, caller, cmd, NOW))


def test_premium_moves_money_from_holder_to_premium_account() -> None:
    """Paying 200.00 of ZH's 200.00 leaves 0.00, credits @premium and records (ZR, 2027)."""
    state = family()
    decision = _premium(state, fen=20_000)
    assert decision.output == {"holder_psn_no": "ZH", "relative_psn_no": "ZR", "year": 2027,
                               "amount": "200.00", "balc": "0.00"}
    assert (state.people["ZH"].balc, state.externals["@premium"], state.premiums) == (0, 20_000,
                                                                                     {("ZR", 2027): 20_000})


def test_premium_larger_than_balance_is_refused_whole() -> None:
    """200.01 against a 200.00 balance is INSUFFICIENT_BALANCE and nothing moves (no partial payment)."""
    state = family()
    decision = _premium(state, fen=20_001)
    assert (decision.code, decision.effects) == (Code.INSUFFICIENT_BALANCE, ())
    assert state.people["ZH"].balc == 20_000


def test_premium_once_per_relative_and_year() -> None:
    """A second premium for ZR and 2027 is PREMIUM_ALREADY_PAID, even by a new holder; 2028 is fine."""
    state = family()
    _premium(state, fen=1_000)
    assert _premium(state, fen=1_000).code is Code.PREMIUM_ALREADY_PAID
    do_unbind(state, "ZH", "ZR")
    add_people(state, employee("Z2", "370300", balc=50_000))
    do_bind(state, "Z2", "ZR")
    assert _premium(state, "Z2", fen=1_000).code is Code.PREMIUM_ALREADY_PAID
    assert _premium(state, "Z2", year=2028, fen=1_000).code is Code.OK
    assert state.people["ZH"].balc + state.people["Z2"].balc == 70_000 - 2_000


@pytest.mark.parametrize(("caller", "relative", "expected"), [
    pytest.param("NOBODY", "ZR", Code.PERSON_NOT_FOUND, id="unknown-caller"),
    pytest.param("ZH", "X2", Code.BINDING_NOT_FOUND, id="not-bound"),
    pytest.param("DH", "ZR", Code.NOT_HOLDER, id="another-holder"),
    pytest.param("DE", "DR", Code.NOT_HOLDER, id="fellow-relative"),
    pytest.param("DH", "DE", Code.INVALID_REQUEST, id="employee-relative"),
])
def test_premium_refusals(caller: str, relative: str, expected: Code) -> None:
    """Only the holder pays, only for a bound resident-insured (390) relative."""
    decision = _premium(family(), caller, relative, fen=100)
    assert (decision.code, decision.effects) == (expected, ())


def test_premium_of_suspended_holder_is_refused() -> None:
    """A suspended holder's account pays no premium: HOLDER_SUSPENDED."""
    state = family()
    commit(state, admin_core.set_status(state, SetStatus(psn_no="ZH", status="suspended"), NOW))
    assert _premium(state, fen=100).code is Code.HOLDER_SUSPENDED


def test_premium_refused_where_pooling_was_switched_off_later() -> None:
    """A region policy switched to disabled after binding also stops premiums: REGION_NOT_ALLOWED."""
    state = family()
    zibo = state.policies.for_region("370300")
    apply(state, PutPolicy(zibo.model_copy(update={"flow": "disabled"})))
    assert _premium(state, fen=100).code is Code.REGION_NOT_ALLOWED


# --- suspension ------------------------------------------------------------------------------


def test_suspension_stops_pooling_closes_windows_and_resuming_restores() -> None:
    """Suspending DH closes DR's window and DR pays cash; after resuming, DR is prompted and pooled again."""
    state = family()
    apply(state, OpenWindow(Window("DR", "P1", "DH", NOW, NOW + timedelta(minutes=5))))
    suspended = commit(state, admin_core.set_status(state, SetStatus(psn_no="DH", status="suspended"), NOW))
    assert [(e.type, e.data["psn_no"]) for e in suspended.events] == [("window.closed", "DR")]
    assert state.windows == {}
    assert _pay(pharmacy(state, "DR", 8_000, msgid="A")) == ("0.00", "80.00")
    commit(state, admin_core.set_status(state, SetStatus(psn_no="DH", status="active"), NOW))
    assert pharmacy(state, "DR", 8_000, msgid="B").code is Code.POOLING_AVAILABLE
    assert _pay(pharmacy(state, "DR", 8_000, msgid="C", now=NOW + timedelta(minutes=1))) == ("80.00", "0.00")


def test_suspended_holder_keeps_family_but_cannot_grow_it() -> None:
    """Suspension keeps existing bindings; binding a new relative is HOLDER_SUSPENDED until resumed."""
    state = make_state(employee("H", balc=100), resident("R1"), resident("R2"),
                       bindings=(("H", "R1", "child"),))
    commit(state, admin_core.set_status(state, SetStatus(psn_no="H", status="suspended"), NOW))
    assert do_bind(state, "H", "R2").code is Code.HOLDER_SUSPENDED
    assert set(state.relatives_of["H"]) == {"R1"}
    commit(state, admin_core.set_status(state, SetStatus(psn_no="H", status="active"), NOW))
    assert do_bind(state, "H", "R2").code is Code.OK


@pytest.mark.parametrize("undo", ["2103", "2208", "2601"])
def test_a_refund_returns_cap_only_to_the_binding_it_was_spent_under(undo: str) -> None:
    """Cap 100.00 spent; unbind, bind again, spend 50.00: undoing the first leaves the new binding's used at 50.00."""
    state = family()
    _cap(state, "ZR", 10_000)
    first = pharmacy(state, "ZR", 10_000, msgid="A")
    assert _pay(first) == ("100.00", "0.00")
    commit(state, do_unbind(state, "ZH", "ZR"))
    commit(state, do_bind(state, "ZH", "ZR", "parent"))
    _cap(state, "ZR", 10_000)
    assert _pay(pharmacy(state, "ZR", 5_000, msgid="B")) == ("50.00", "0.00")
    if undo == "2601":
        original = Original("2102", "OK", first.setl_id)
        d = commit(state, reverse(state, Reverse(psn_no="ZR", omsgid="A", oinfno="2102"), "T1", original, NOW))
    else:
        d = commit(state, cancel(state, Cancel(psn_no="ZR", setl_id=first.setl_id or ""), undo, NOW, **AT_P1))
    assert d.code is Code.OK
    assert (state.binding_of["ZR"].used, state.people["ZH"].balc) == (5_000, 20_000 - 5_000)
    assert _pay(pharmacy(state, "ZR", 10_000, msgid="C")) == ("50.00", "50.00")
    assert state.binding_of["ZR"].used == 10_000
