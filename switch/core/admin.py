"""Admin decisions: load people and families, credit accounts, suspend and resume, inspect, policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switch.core.binding import BindingView, check_bind, check_kept
from switch.core.clinic import clinic_view
from switch.core.codes import Code
from switch.core.model import (
    Binding,
    CloseWindow,
    Decision,
    DeleteInvite,
    Effect,
    Event,
    Move,
    Person,
    PutBinding,
    PutPerson,
    PutPolicy,
    State,
    iso,
    refuse,
)
from switch.core.money import format_fen
from switch.core.policy import Policy
from switch.wire.inputs import Credit, Load, SetStatus

__all__ = ["close_windows_of_holder", "credit", "load", "set_policy", "set_status", "state_view", "withdraw_invites"]


def close_windows_of_holder(state: State, holder: str, now: datetime, why: str,
                            relative: str | None = None) -> tuple[list[Effect], list[Event]]:
    """Close every open window of the holder's relatives (suspension), or of one ``relative`` (unbind)."""
    relatives = set(state.relatives_of.get(holder, {})) if relative is None else {relative}
    effects: list[Effect] = []
    events: list[Event] = []
    for window in list(state.windows.values()):
        if window.psn_no in relatives:
            effects.append(CloseWindow(window.psn_no, window.fixmedins_code))
            events.append(Event("window.closed", now, {"psn_no": window.psn_no,
                                                       "fixmedins_code": window.fixmedins_code,
                                                       "holder_psn_no": holder, "reason": why}))
    return effects, events


def withdraw_invites(state: State, relative: str, holder: str, now: datetime) -> tuple[list[Effect], list[Event]]:
    """The invitations to ``relative`` deleted now that ``holder`` binds them (one holder per relative): every
    other holder who invited them is told by ``binding.declined`` (``reason: "bound_elsewhere"``), so their app
    does not wait for an answer that will never come; the binding's own holder learns of it by binding.created."""
    moot = [i for (r, _), i in state.invites.items() if r == relative]
    effects: list[Effect] = [DeleteInvite(relative, i.holder) for i in moot]
    events = [Event("binding.declined", now, {"holder_psn_no": i.holder, "relative_psn_no": relative,
                                              "rltn": i.rltn, "reason": "bound_elsewhere"})
              for i in moot if i.holder != holder]
    return effects, events


def load(state: State, cmd: Load, now: datetime) -> Decision:
    """admin.load: upsert people, then bindings checked by the binding rules; all or nothing."""
    listed_twice = _listed_twice(cmd)
    if listed_twice is not None:
        return listed_twice
    view = BindingView(state)
    effects: list[Effect] = []
    events: list[Event] = []
    seen_certs: dict[tuple[str, str], str] = {}
    for i, p in enumerate(cmd.people):
        for cert in p.certs.items():
            owner = seen_certs.get(cert) or state.cert_owner.get(cert)
            if owner is not None and owner != p.psn_no:
                return _invalid(["input", "people", i, "certs", cert[0]],
                                f"certificate {cert[1]} already belongs to {owner}")
            seen_certs[cert] = p.psn_no
        certs: dict[str, str] = dict(p.certs.items())
        person = Person(p.psn_no, p.psn_name, p.insutype, p.insuplc_admdvs, p.status, certs, 0, p.gend,
                        None if p.brdy is None else p.brdy.isoformat())
        old = view.person(p.psn_no)
        if old is not None and old.insutype == "310" and p.insutype == "390" and old.balc and p.balc != 0:
            return _invalid(["input", "people", i, "insutype"],
                            f"{p.psn_no} still has {format_fen(old.balc)} in a personal account: give "
                            f"\"balc\": \"0.00\" in the same entry to empty it")
        view.people[p.psn_no] = person
        effects.append(PutPerson(person))
        target = p.balc if p.balc is not None else None
        current = old.balc if old is not None else 0
        if target is not None and target != current:
            diff = target - current
            effects.append(Move("@load", p.psn_no, diff, "load", p.psn_no, now) if diff > 0
                           else Move(p.psn_no, "@load", -diff, "load", p.psn_no, now))
        if old is not None and old.status == "active" and p.status == "suspended":
            closing, closed = close_windows_of_holder(state, p.psn_no, now, "holder_suspended")
            effects += closing
            events += closed
    broken = _bindings_broken(state, view, cmd)
    if broken is not None:
        return broken
    next_bid = state.next_binding
    for i, b in enumerate(cmd.bindings):
        refused = check_bind(view, b.holder_psn_no, b.relative_psn_no, b.rltn)
        if refused is not None:
            return refuse(refused.code, f"bindings[{i}] {b.holder_psn_no} → {b.relative_psn_no}: {refused.err_msg}",
                          {"errors": [{"loc": ["input", "bindings", i], "msg": refused.err_msg,
                                       "code": refused.code.value}]})
        existing = view.binding_of(b.relative_psn_no)
        if existing is None:
            binding = Binding(b.holder_psn_no, b.relative_psn_no, b.rltn, b.cap, 0, now, next_bid)
            next_bid += 1
        else:
            # Like a person's balc: an omitted cap keeps the binding's, an explicit null removes it.
            cap = b.cap if "cap" in b.model_fields_set else existing.cap
            binding = Binding(b.holder_psn_no, b.relative_psn_no, b.rltn, cap, existing.used, existing.created_at,
                              existing.bid)
        view.add(binding)
        effects.append(PutBinding(binding))
        if existing is None:
            events.append(Event("binding.created", now, {"holder_psn_no": binding.holder,
                                                         "relative_psn_no": binding.relative,
                                                         "rltn": binding.rltn, "via": "admin.load"}))
            withdrawing, withdrawn = withdraw_invites(state, binding.relative, binding.holder, now)
            effects += withdrawing
            events += withdrawn
    return Decision(code=Code.OK, err_msg="success",
                    output={"people": len(cmd.people), "bindings": len(cmd.bindings)},
                    effects=tuple(effects), events=tuple(events))


def _bindings_broken(state: State, view: BindingView, cmd: Load) -> Decision | None:
    """INVALID_REQUEST when the people a load changes leave a binding already made against the binding rules
    (a holder moved to another province alone, or made resident-insured): unbind it first, or move the family
    together. Every binding is held to the same rules whichever way its people came to be as they are."""
    for i, p in enumerate(cmd.people):
        old = state.people.get(p.psn_no)
        if old is None or (old.insutype, old.admdvs) == (p.insutype, p.insuplc_admdvs):
            continue
        field = "insutype" if old.insutype != p.insutype else "insuplc_admdvs"
        kept = [*state.relatives_of.get(p.psn_no, {}).values(), *filter(None, [state.binding_of.get(p.psn_no)])]
        for binding in kept:
            refused = check_kept(view, binding)
            if refused is not None:
                msg = (f"{p.psn_no}'s new {field} breaks the binding {binding.holder} → {binding.relative}: "
                       f"{refused.err_msg}; unbind it first (app.unbind), or change the family in one load")
                return refuse(Code.INVALID_REQUEST, msg, {"errors": [
                    {"loc": ["input", "people", i, field], "msg": msg, "code": refused.code.value}]})
    return None


def _listed_twice(cmd: Load) -> Decision | None:
    """INVALID_REQUEST naming both positions when a person or a relative's binding is listed twice.

    Applied one after the other, the second entry would silently win (or, for balances, both would
    move money); a careful operator would rather fix the file than guess which entry was meant.
    """
    # A relative listed under two holders is not a duplicate: the binding rules refuse it
    # (RELATIVE_ALREADY_BOUND), as they would across two loads.
    for section, key, entries in (("people", "psn_no", [(p.psn_no,) for p in cmd.people]),
                                  ("bindings", "relative_psn_no",
                                   [(b.relative_psn_no, b.holder_psn_no) for b in cmd.bindings])):
        first: dict[tuple[str, ...], int] = {}
        for i, value in enumerate(entries):
            j = first.setdefault(value, i)
            if j != i:
                msg = f"{value[0]} is listed twice, at {section}[{j}] and {section}[{i}]; nothing was loaded"
                return Decision(code=Code.INVALID_REQUEST, err_msg=msg, output={"errors": [
                    {"loc": ["input", section, j, key], "msg": msg},
                    {"loc": ["input", section, i, key], "msg": msg}]})
    return None


def _invalid(loc: list[Any], msg: str) -> Decision:
    return refuse(Code.INVALID_REQUEST, msg, {"errors": [{"loc": loc, "msg": msg}]})


def credit(state: State, cmd: Credit, now: datetime, ref: str) -> Decision:
    """admin.credit: the monthly allocation into an employee's personal account."""
    person = state.people.get(cmd.psn_no)
    if person is None:
        return refuse(Code.PERSON_NOT_FOUND, f"参保人 {cmd.psn_no} 不存在")
    if person.insutype != "310":
        return _invalid(["input", "psn_no"], f"{cmd.psn_no} is resident-insured (390) and has no personal account")
    return Decision(code=Code.OK, err_msg="success",
                    output={"psn_no": cmd.psn_no, "balc": format_fen(person.balc + cmd.amount)},
                    effects=(Move("@credit", cmd.psn_no, cmd.amount, "credit", ref, now),))


def set_status(state: State, cmd: SetStatus, now: datetime) -> Decision:
    """admin.set_status: suspending a holder closes the windows of the relatives; resuming restores pooling."""
    person = state.people.get(cmd.psn_no)
    if person is None:
        return refuse(Code.PERSON_NOT_FOUND, f"参保人 {cmd.psn_no} 不存在")
    updated = Person(person.psn_no, person.psn_name, person.insutype, person.admdvs, cmd.status, dict(person.certs),
                     0, person.gend, person.brdy)
    effects: list[Effect] = [PutPerson(updated)]
    events: list[Event] = []
    if cmd.status == "suspended" and person.status != "suspended":
        closing, closed = close_windows_of_holder(state, person.psn_no, now, "holder_suspended")
        effects += closing
        events += closed
    return Decision(code=Code.OK, err_msg="success", output={"psn_no": cmd.psn_no, "status": cmd.status},
                    effects=tuple(effects), events=tuple(events))


def set_policy(state: State, raw: dict[str, Any]) -> Decision:
    try:
        policy = Policy.model_validate(raw)
    except Exception as exc:  # pydantic.ValidationError; the message lists each problem
        errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
        return refuse(Code.INVALID_REQUEST, f"invalid policy: {exc}",
                      {"errors": [{"loc": ["input", "set", *e["loc"]], "msg": e["msg"]} for e in errors]})
    return Decision(code=Code.OK, err_msg="success", output={"policy": policy.to_wire()},
                    effects=(PutPolicy(policy),))


def _family(state: State, psn_no: str) -> set[str]:
    binding = state.binding_of.get(psn_no)
    holder = binding.holder if binding is not None else psn_no
    return {holder, psn_no, *state.relatives_of.get(holder, {})}


def state_view(state: State, psn_no: str | None, now: datetime) -> Decision:
    """admin.state: people, bindings, pending invitations and open windows, or one person's family."""
    if psn_no is not None and psn_no not in state.people:
        return refuse(Code.PERSON_NOT_FOUND, f"参保人 {psn_no} 不存在")
    members = _family(state, psn_no) if psn_no is not None else None
    people = [p for p in state.people.values() if members is None or p.psn_no in members]
    bindings = [b for b in state.binding_of.values()
                if members is None or b.relative in members or b.holder in members]
    windows = [w for w in state.windows.values()
               if w.opened_at <= now < w.expires_at and (members is None or w.psn_no in members)]
    invites = sorted((i for i in state.invites.values()
                      if members is None or i.relative in members or i.holder in members),
                     key=lambda i: (i.relative, i.holder))
    settled = state.settlements.settled
    output = {
        "now": iso(now),
        "people": [{"psn_no": p.psn_no, "psn_name": p.psn_name, "insutype": p.insutype,
                    "insuplc_admdvs": p.admdvs, "status": p.status, "balc": format_fen(p.balc)} for p in people],
        "bindings": [{"holder_psn_no": b.holder, "relative_psn_no": b.relative, "rltn": b.rltn,
                      "cap": None if b.cap is None else format_fen(b.cap), "used": format_fen(b.used)}
                     for b in bindings],
        "windows": [{"psn_no": w.psn_no, "fixmedins_code": w.fixmedins_code, "holder_psn_no": w.holder,
                     "opened_at": iso(w.opened_at), "expires_at": iso(w.expires_at)} for w in windows],
        "invitations": [{"holder_psn_no": i.holder, "relative_psn_no": i.relative, "rltn": i.rltn,
                         "requested_at": iso(i.at)} for i in invites],
        **clinic_view(state, members),
        "counts": {"people": len(state.people), "bindings": len(state.binding_of), "windows": len(windows),
                   "settlements": settled,
                   "undone": len(state.settlements) - settled},
    }
    return Decision(code=Code.OK, err_msg="success", output=output)
