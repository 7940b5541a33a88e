"""Binding consent (policy binding_consent): app.bind invites, the relative accepts or declines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switch.core import admin
from switch.core import member_app as app
from switch.core.codes import Code
from switch.core.model import Binding, Decision, PutBinding, PutPolicy, State, apply
from switch.core.policy import Policy
from switch.wire.inputs import Accept, Bind, Decline, Empty, Load
from tests.support.states import NOW, commit, do_bind, employee, make_state, pharmacy, resident


def consenting() -> State:
    """Dongying under binding consent: holder DH (500.00), stranger ST (300.00), M (resident), her husband HB."""
    state = make_state(employee("DH", balc=50_000), employee("ST", balc=30_000), resident("M"),
                       employee("HB", balc=10_000))
    apply(state, PutPolicy(Policy(name="dongying-consent", admdvs=["370500"], flow="automatic",
                                  binding_consent=True)))
    return state


def invite(state: State, holder: str, relative: str, rltn: str = "spouse") -> Decision:
    cmd = Bind.model_validate({"relative_psn_no": relative, "rltn": rltn, "face_verified": True})
    return commit(state, app.bind(state, holder, cmd, NOW))


def accept(state: State, relative: str, holder: str, face: bool = True) -> Decision:
    return commit(state, app.accept(state, relative, Accept(holder_psn_no=holder, face_verified=face), NOW))


def test_bind_under_consent_is_an_invitation_that_pools_nothing() -> None:
    """app.bind answers pending and binds no one: M's 80.00 is all cash until she accepts, then DH pays."""
    state = consenting()
    d = invite(state, "DH", "M")
    assert (d.code, d.output) == (Code.OK, {"holder_psn_no": "DH", "relative_psn_no": "M", "rltn": "spouse",
                                           "pending": True, "requested_at": "2026-11-25T10:00:00.000+08:00"})
    assert [e.type for e in d.events] == ["binding.requested"]
    assert state.binding_of == {}
    assert pharmacy(state, "M", 8_000, msgid="A").output["setlinfo"]["psn_cash_pay"] == "80.00"  # type: ignore[index]
    assert accept(state, "M", "DH", face=False).code is Code.FACE_VERIFICATION_REQUIRED
    accepted = accept(state, "M", "DH")
    assert (accepted.code, accepted.output["created"]) == (Code.OK, True)  # type: ignore[index]
    assert accepted.events[0].data["via"] == "app.accept" and state.invites == {}
    assert pharmacy(state, "M", 8_000, msgid="B").output["setlinfo"]["acct_mulaid_pay"] == "80.00"  # type: ignore[index]
    assert state.people["DH"].balc == 42_000


def test_a_strangers_invitation_blocks_no_one() -> None:
    """ST invites M; her husband HB invites her too; she accepts HB and ST's invitation is gone with it."""
    state = consenting()
    invite(state, "ST", "M")
    assert invite(state, "HB", "M").code is Code.OK
    assert accept(state, "M", "HB").code is Code.OK
    assert (state.binding_of["M"].holder, state.invites) == ("HB", {})
    assert accept(state, "M", "ST").code is Code.BINDING_NOT_FOUND


def test_decline_removes_the_invitation_and_binds_nothing() -> None:
    """app.decline answers the refused invitation, announces binding.declined; accepting it afterwards is not found."""
    state = consenting()
    invite(state, "ST", "M")
    d = commit(state, app.decline(state, "M", Decline(holder_psn_no="ST"), NOW))
    assert (d.code, d.output) == (Code.OK, {"holder_psn_no": "ST", "relative_psn_no": "M", "rltn": "spouse",
                                           "declined": True})
    assert [e.type for e in d.events] == ["binding.declined"]
    assert (state.invites, state.binding_of) == ({}, {})
    assert commit(state, app.decline(state, "M", Decline(holder_psn_no="ST"), NOW)).code is Code.BINDING_NOT_FOUND


@pytest.mark.parametrize(("holder", "relative", "code"), [
    ("HB", "DH", Code.HOLDER_IS_RELATIVE),  # since invited, the inviter was bound as someone's relative
    ("HB", "M", Code.RELATIVE_ALREADY_BOUND),  # since invited, the invitee was bound by someone else
])
def test_accept_checks_the_binding_rules_again(holder: str, relative: str, code: Code) -> None:
    """A binding made since the invitation (admin.load needs no consent) counts: accepting is refused by its rule."""
    state = consenting()
    invite(state, "DH", "M")
    apply(state, PutBinding(Binding(holder, relative, "spouse", None, 0, NOW, state.next_binding)))
    assert accept(state, "M", "DH").code is code
    assert state.binding_of.get("M") is None or state.binding_of["M"].holder == "HB"


def test_without_consent_binding_is_on_the_holders_word() -> None:
    """The seeded regions keep 承诺制: app.bind binds at once, with no invitation."""
    state = make_state(employee("DH", balc=50_000), resident("M"))
    d = do_bind(state, "DH", "M")
    assert (d.code, d.output["created"], state.binding_of["M"].holder) == (Code.OK, True, "DH")  # type: ignore[index]
    assert state.invites == {}


def test_pending_invitations_are_listed_for_the_relative_the_holder_and_the_operator() -> None:
    """An invitation's event is at most once: app.bindings of the invited relative and of the inviting holder, and
    admin.state (whole or by psn_no), list it, so a relative whose app was offline can still find and accept it."""
    state = consenting()
    invite(state, "ST", "M", "parent")
    invite(state, "DH", "M")
    later = NOW + timedelta(minutes=3)
    commit(state, app.bind(state, "DH", Bind.model_validate({"relative_psn_no": "HB", "rltn": "child",
                                                              "face_verified": True}), later))
    mine = app.bindings(state, "M", Empty(), NOW).output or {}
    assert (mine["role"], mine["invitations_sent"]) == ("none", [])
    at = "2026-11-25T10:00:00.000+08:00"
    assert mine["invitations"] == [
        {"holder_psn_no": "DH", "holder_name": "测试DH", "rltn": "spouse", "requested_at": at},
        {"holder_psn_no": "ST", "holder_name": "测试ST", "rltn": "parent", "requested_at": at}]
    sent = app.bindings(state, "DH", Empty(), NOW).output or {}
    assert (sent["role"], sent["invitations"]) == ("none", [])
    assert sent["invitations_sent"] == [
        {"relative_psn_no": "HB", "rltn": "child", "requested_at": "2026-11-25T10:03:00.000+08:00"},
        {"relative_psn_no": "M", "rltn": "spouse", "requested_at": at}]
    everything = admin.state_view(state, None, NOW).output or {}
    assert [(i["holder_psn_no"], i["relative_psn_no"], i["rltn"]) for i in everything["invitations"]] == [
        ("DH", "HB", "child"), ("DH", "M", "spouse"), ("ST", "M", "parent")]
    assert everything["invitations"][0]["requested_at"] == "2026-11-25T10:03:00.000+08:00"
    for psn_no, expected in (("M", [("DH", "M"), ("ST", "M")]), ("ST", [("ST", "M")]), ("HB", [("DH", "HB")])):
        found = admin.state_view(state, psn_no, NOW).output or {}
        assert [(i["holder_psn_no"], i["relative_psn_no"]) for i in found["invitations"]] == expected, psn_no
    accept(state, "M", "DH")
    held = app.bindings(state, "DH", Empty(), NOW).output or {}
    assert (held["role"], [i["relative_psn_no"] for i in held["invitations_sent"]]) == ("holder", ["HB"])
    bound = app.bindings(state, "M", Empty(), NOW).output or {}
    assert (bound["role"], bound["invitations"], bound["invitations_sent"]) == ("relative", [], [])


def test_accepting_one_invitation_tells_every_other_inviter() -> None:
    """M accepts HB: ST's invitation is withdrawn and ST's app hears binding.declined (reason bound_elsewhere);
    HB hears binding.created. A refusal by app.decline says reason declined."""
    state = consenting()
    invite(state, "ST", "M", "parent")
    invite(state, "HB", "M")
    accepted = accept(state, "M", "HB")
    assert [(e.type, e.data) for e in accepted.events] == [
        ("binding.created", {"holder_psn_no": "HB", "relative_psn_no": "M", "rltn": "spouse", "via": "app.accept"}),
        ("binding.declined", {"holder_psn_no": "ST", "relative_psn_no": "M", "rltn": "parent",
                              "reason": "bound_elsewhere"})]
    assert state.invites == {}
    invite(state, "ST", "DH", "parent")
    declined = commit(state, app.decline(state, "DH", Decline(holder_psn_no="ST"), NOW))
    assert [e.data["reason"] for e in declined.events] == ["declined"]


def test_a_binding_by_admin_load_withdraws_the_invitations_to_that_person() -> None:
    """admin.load binds without consent; the invitations to the person it binds end, each inviter told."""
    state = consenting()
    invite(state, "ST", "M", "parent")
    invite(state, "HB", "M")
    load = Load.model_validate({"bindings": [{"holder_psn_no": "HB", "relative_psn_no": "M", "rltn": "spouse"}]})
    loaded = commit(state, admin.load(state, load, NOW))
    assert [(e.type, e.data["holder_psn_no"], e.data.get("reason")) for e in loaded.events] == [
        ("binding.created", "HB", None), ("binding.declined", "ST", "bound_elsewhere")]
    assert state.invites == {}
