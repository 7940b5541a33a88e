"""The member app's binding rules in the pure core: bind, unbind, the family view, who may change what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switch.core import admin as admin_core
from switch.core import member_app as app
from switch.core.codes import Code
from switch.core.model import Binding, OpenWindow, PutBinding, State, Window, apply
from switch.wire.inputs import Bind, Empty, Load, PayPremium, SetCap, Unbind
from tests.support.states import (
    NOW,
    add_people,
    do_bind,
    do_unbind,
    employee,
    family,
    make_state,
    pharmacy,
    resident,
)


def rules_world() -> State:
    """family() plus a person for each binding rule: suspended, resident, other provinces, Hunan regions."""
    return add_people(family(), employee("HS", status="suspended"), resident("RH"),
                      employee("XS", status="suspended"), resident("QD", "110000"), employee("BJ", "110000"),
                      resident("BS", "110000"), employee("XT", "430300"), resident("CR", "430100"),
                      employee("CE", "430100"), employee("CH", "430100"), employee("ZZ", "430200"),
                      resident("ZW", "430200"))


# (caller, relative, rltn, expected): every binding rule of DOMAIN.md, in the order check_bind applies them.
BIND_RULES = [
    pytest.param("DH", "X1", "child", Code.OK, id="ok-child"),
    pytest.param("DH", "X2", "spouse_parent", Code.OK, id="dongying-allows-spouse_parent"),
    pytest.param("DH", "DR", "parent", Code.OK, id="rebind-own-relative-updates"),
    pytest.param("NOBODY", "X1", "child", Code.PERSON_NOT_FOUND, id="unknown-caller"),
    pytest.param("DH", "NOBODY", "child", Code.PERSON_NOT_FOUND, id="unknown-relative"),
    pytest.param("DH", "DH", "spouse", Code.SELF_BINDING, id="self-binding"),
    pytest.param("RH", "X1", "child", Code.HOLDER_NOT_EMPLOYEE, id="resident-holder"),
    pytest.param("HS", "X1", "child", Code.HOLDER_SUSPENDED, id="suspended-holder"),
    pytest.param("DE", "X1", "child", Code.HOLDER_IS_RELATIVE, id="rule3-relative-cannot-bind"),
    pytest.param("DH", "OR", "child", Code.RELATIVE_ALREADY_BOUND, id="rule1-one-holder-per-relative"),
    pytest.param("DH", "OH", "child", Code.RELATIVE_IS_HOLDER, id="rule2-holder-cannot-be-relative"),
    pytest.param("DH", "XS", "child", Code.INSURANCE_SUSPENDED, id="suspended-relative"),
    pytest.param("ZH", "X2", "spouse_parent", Code.RELATION_NOT_ALLOWED, id="zibo-refuses-spouse_parent"),
    pytest.param("DH", "X2", "sibling", Code.RELATION_NOT_ALLOWED, id="dongying-refuses-sibling"),
    pytest.param("BJ", "BS", "sibling", Code.OK, id="national-2024-allows-sibling"),
    pytest.param("XT", "CE", "spouse_parent", Code.RELATION_NOT_ALLOWED, id="hunan-refuses-spouse_parent"),
    pytest.param("DH", "QD", "child", Code.REGION_NOT_ALLOWED, id="relative-in-other-province"),
    pytest.param("XT", "CR", "child", Code.REGION_NOT_ALLOWED, id="hunan-no-pooling-to-changsha-residents"),
    pytest.param("XT", "CE", "child", Code.OK, id="hunan-changsha-employee-is-fine"),
    pytest.param("CH", "CR", "child", Code.OK, id="changsha-holder-to-changsha-resident"),
    pytest.param("ZZ", "ZW", "child", Code.REGION_NOT_ALLOWED, id="zhuzhou-pooling-switched-off"),
    pytest.param("XT", "ZW", "child", Code.REGION_NOT_ALLOWED, id="no-pooling-into-switched-off-region"),
]


@pytest.mark.parametrize(("caller", "relative", "rltn", "expected"), BIND_RULES)
def test_bind_rule(caller: str, relative: str, rltn: str, expected: Code) -> None:
    """app.bind answers each binding rule with its own code and changes nothing when it refuses."""
    state = rules_world()
    before = {r: (b.holder, b.rltn) for r, b in state.binding_of.items()}
    decision = do_bind(state, caller, relative, rltn)
    assert decision.code is expected, decision.err_msg
    after = {r: (b.holder, b.rltn) for r, b in state.binding_of.items()}
    if expected is Code.OK:
        assert after == {**before, relative: (caller, rltn)}
    else:
        assert (after, decision.effects, decision.events) == (before, (), ())


@pytest.mark.parametrize(("caller", "relative", "rltn", "expected"), BIND_RULES)
def test_admin_load_applies_the_same_rules(caller: str, relative: str, rltn: str, expected: Code) -> None:
    """admin.load refuses exactly the bindings app.bind refuses, with the same code."""
    state = rules_world()
    load = Load.model_validate({"bindings": [{"holder_psn_no": caller, "relative_psn_no": relative,
                                              "rltn": rltn}]})
    assert admin_core.load(state, load, NOW).code is expected


@pytest.mark.parametrize(("admdvs", "limit"), [("370500", 7), ("370300", 7), ("370200", 7), ("430300", 10)])
def test_max_relatives_per_region(admdvs: str, limit: int) -> None:
    """Dongying, Zibo, Shandong allow 7 relatives, Hunan 10; one more is MAX_RELATIVES, re-binding is fine."""
    state = make_state(employee("H", admdvs), *(resident(f"R{i}", admdvs) for i in range(limit + 1)))
    for i in range(limit):
        assert do_bind(state, "H", f"R{i}").code is Code.OK
    extra = do_bind(state, "H", f"R{limit}")
    assert (extra.code, len(state.relatives_of["H"])) == (Code.MAX_RELATIVES, limit)
    assert do_bind(state, "H", "R0", "parent").code is Code.OK


def test_bind_creates_binding_and_announces_it() -> None:
    """A new binding has no cap and nothing used, and is announced as binding.created."""
    state = family()
    decision = do_bind(state, "DH", "X2")
    assert decision.output == {"holder_psn_no": "DH", "relative_psn_no": "X2", "rltn": "child", "cap": None,
                               "used": "0.00", "created": True}
    assert [(e.type, e.data) for e in decision.events] == [("binding.created", {
        "holder_psn_no": "DH", "relative_psn_no": "X2", "rltn": "child", "via": "app.bind"})]
    assert state.binding_of["X2"] is state.relatives_of["DH"]["X2"]


def test_rebind_keeps_cap_and_usage() -> None:
    """Binding one's own relative again changes only the relation: cap, used and creation stay, no event."""
    state = family()
    apply(state, PutBinding(Binding("DH", "DR", "child", 5_000, 1_200, NOW - timedelta(days=3))))
    decision = do_bind(state, "DH", "DR", "parent")
    b = state.binding_of["DR"]
    assert (decision.output or {})["created"] is False and decision.events == ()
    assert (b.rltn, b.cap, b.used, b.created_at) == ("parent", 5_000, 1_200, NOW - timedelta(days=3))


@pytest.mark.parametrize("op", ["bind", "unbind"])
@pytest.mark.parametrize("face", [False, None])
def test_face_verification_required(op: str, face: bool | None) -> None:
    """bind and unbind without face_verified: true (false or absent) are refused before anything else."""
    state = family()
    given = {} if face is None else {"face_verified": face}
    if op == "bind":
        cmd = Bind.model_validate({"relative_psn_no": "X1", "rltn": "child", **given})
        decision = app.bind(state, "DH", cmd, NOW)
    else:
        decision = app.unbind(state, "DH", Unbind.model_validate({"relative_psn_no": "DR", **given}), NOW)
    assert (decision.code, decision.effects) == (Code.FACE_VERIFICATION_REQUIRED, ())


def _windows(state: State) -> None:
    for psn_no, code in (("DR", "P1"), ("DR", "P2"), ("DE", "P1")):
        apply(state, OpenWindow(Window(psn_no, code, "DH", NOW, NOW + timedelta(minutes=5))))


def test_unbind_closes_only_that_relatives_windows() -> None:
    """Unbinding DR closes DR's windows (window.closed) and announces binding.removed; DE's window stays."""
    state = family()
    _windows(state)
    decision = do_unbind(state, "DH", "DR")
    assert decision.code is Code.OK and (decision.output or {})["windows_closed"] == 2
    assert [(e.type, e.data.get("psn_no"), e.data.get("fixmedins_code")) for e in decision.events] == [
        ("window.closed", "DR", "P1"), ("window.closed", "DR", "P2"), ("binding.removed", None, None)]
    assert decision.events[0].data["reason"] == "unbound"
    assert set(state.windows) == {("DE", "P1")}
    assert "DR" not in state.binding_of and set(state.relatives_of["DH"]) == {"DE"}


def test_unbound_relatives_next_swipe_is_not_pooled() -> None:
    """After unbind the relative's swipe settles without the holder: no prompt, all cash, holder untouched."""
    state = family()
    do_unbind(state, "DH", "DR")
    decision = pharmacy(state, "DR", 8_000)
    info = (decision.output or {})["setlinfo"]
    assert (decision.code, info["acct_mulaid_pay"], info["psn_cash_pay"], info["mulaid_psn_no"]) == (
        Code.OK, "0.00", "80.00", None)
    assert state.people["DH"].balc == 50_000


def test_unbound_relative_can_join_another_holder() -> None:
    """Rule 1 holds one holder at a time: once unbound, the relative may be bound by someone else."""
    state = family()
    assert do_bind(state, "OH", "DR").code is Code.RELATIVE_ALREADY_BOUND
    do_unbind(state, "DH", "DR")
    assert do_bind(state, "OH", "DR").code is Code.OK and state.binding_of["DR"].holder == "OH"


def test_holder_without_relatives_may_become_a_relative() -> None:
    """Rule 2 is about having relatives now: after unbinding the last one, a former holder can be bound."""
    state = family()
    do_unbind(state, "OH", "OR")
    assert do_bind(state, "DH", "OH", "spouse").code is Code.OK


@pytest.mark.parametrize(("caller", "relative", "expected"), [
    pytest.param("NOBODY", "DR", Code.PERSON_NOT_FOUND, id="unknown-caller"),
    pytest.param("DH", "X1", Code.BINDING_NOT_FOUND, id="not-bound"),
    pytest.param("DH", "NOBODY", Code.BINDING_NOT_FOUND, id="unknown-relative"),
    pytest.param("DR", "DR", Code.NOT_HOLDER, id="relative-unbinds-self"),
    pytest.param("DE", "DR", Code.NOT_HOLDER, id="fellow-relative"),
    pytest.param("OH", "DR", Code.NOT_HOLDER, id="another-holder"),
])
def test_unbind_refusals(caller: str, relative: str, expected: Code) -> None:
    """Only the holder of a binding removes it; unknown bindings are BINDING_NOT_FOUND."""
    state = family()
    decision = app.unbind(state, caller, Unbind(relative_psn_no=relative, face_verified=True), NOW)
    assert (decision.code, decision.effects) == (expected, ())


# Every change a relative can ask for, and the code it gets: NOT_HOLDER, or rule 3 for binding someone.
RELATIVE_CHANGES = [
    pytest.param("app.unbind", Unbind(relative_psn_no="DR", face_verified=True), Code.NOT_HOLDER,
                 id="unbind"),
    pytest.param("app.set_cap", SetCap(relative_psn_no="DR", cap=100_000), Code.NOT_HOLDER, id="set_cap-own"),
    pytest.param("app.set_cap", SetCap(relative_psn_no="DE", cap=0), Code.NOT_HOLDER, id="set_cap-other"),
    pytest.param("app.pay_premium", PayPremium(relative_psn_no="DR", year=2027, amount=1), Code.NOT_HOLDER,
                 id="premium"),
    pytest.param("app.bind", Bind(relative_psn_no="X1", rltn="child", face_verified=True),
                 Code.HOLDER_IS_RELATIVE, id="bind"),
]


@pytest.mark.parametrize(("infno", "model", "expected"), RELATIVE_CHANGES)
def test_relative_can_change_nothing(infno: str, model: object, expected: Code) -> None:
    """A relative (DE, an employee with an account) is refused every change to the family."""
    state = family()
    decision = getattr(app, infno.removeprefix("app."))(state, "DE", model, NOW)
    assert (decision.code, decision.effects) == (expected, ())


def test_holder_sees_relatives_with_cap_and_used() -> None:
    """app.bindings for the holder: each relative with relation, cap and amount used, sorted by psn_no."""
    state = family()
    apply(state, PutBinding(Binding("DH", "DR", "child", 5_000, 1_250, NOW)))
    out = app.bindings(state, "DH", Empty(), NOW).output or {}
    assert (out["role"], out["read_only"], out["holder"]["psn_no"]) == ("holder", False, "DH")
    assert [(r["psn_no"], r["rltn"], r["cap"], r["used"]) for r in out["relatives"]] == [
        ("DE", "spouse", None, "0.00"), ("DR", "child", "50.00", "12.50")]


def test_relative_sees_holder_and_others_read_only() -> None:
    """app.bindings for a relative: the holder, own cap and use, and the others without their spending."""
    state = family()
    apply(state, PutBinding(Binding("DH", "DR", "child", 5_000, 1_250, NOW)))
    out = app.bindings(state, "DR", Empty(), NOW).output or {}
    assert (out["role"], out["read_only"], out["holder"]["psn_no"], out["holder"]["status"]) == (
        "relative", True, "DH", "active")
    assert out["self"] == {"psn_no": "DR", "rltn": "child", "cap": "50.00", "used": "12.50"}
    assert [(r["psn_no"], r["rltn"]) for r in out["relatives"]] == [("DE", "spouse")]
    assert "cap" not in out["relatives"][0] and "used" not in out["relatives"][0]


@pytest.mark.parametrize(("caller", "expected"), [("X1", Code.OK), ("NOBODY", Code.PERSON_NOT_FOUND)])
def test_bindings_of_someone_outside_any_family(caller: str, expected: Code) -> None:
    """A person in no family sees role "none" and no one; an unknown caller is PERSON_NOT_FOUND."""
    decision = app.bindings(family(), caller, Empty(), NOW)
    assert decision.code is expected
    if expected is Code.OK:
        assert decision.output == {"role": "none", "read_only": False, "holder": None, "relatives": [],
                                   "invitations": [], "invitations_sent": []}
