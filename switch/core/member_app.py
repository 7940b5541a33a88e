"""Member-app decisions: bind, unbind, caps, the family view, pooled-spending records and premiums.

The caller is the psn_no of the app topic. Rules (DOMAIN.md "Binding", PROTOCOL.md app channel):
- bind and unbind need the caller's face verification, checked before anything else, because it
  is what authenticates the caller as that person;
- who may bind whom is ``check_bind``, the same code that checks ``admin.load``;
- only the holder of a binding changes it (unbind, cap, premium); anyone else gets NOT_HOLDER —
  a relative trying to bind someone is HOLDER_IS_RELATIVE, the binding rule that covers it;
- where the holder's policy asks for ``binding_consent``, app.bind only invites: the relative
  accepts (face-verified: it is the relative's account of who may see and pay for them) or
  declines from their own app, and the binding rules are checked again at acceptance;
- reads (bindings, records) are never refused to a known person: they show the caller's own part.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from switch.core.admin import close_windows_of_holder, withdraw_invites
from switch.core.binding import BindingView, check_bind
from switch.core.codes import Code
from switch.core.model import (
    Binding,
    Decision,
    DeleteBinding,
    DeleteInvite,
    Event,
    Invite,
    Move,
    Person,
    PutBinding,
    PutInvite,
    PutPremium,
    State,
    iso,
    refuse,
)
from switch.core.money import format_fen
from switch.wire.inputs import Accept, Bind, Decline, Empty, PayPremium, Records, SetCap, Unbind

__all__ = ["accept", "bind", "bindings", "decline", "pay_premium", "records", "set_cap", "unbind"]


def _caller(state: State, psn_no: str) -> Person | Decision:
    person = state.people.get(psn_no)
    if person is None:
        return refuse(Code.PERSON_NOT_FOUND, f"参保人 {psn_no} 不存在")
    return person


def _holder_and_binding(state: State, caller: str, relative: str) -> tuple[Person, Binding] | Decision:
    """The caller, and their binding of ``relative``; or the refusal (PERSON_NOT_FOUND, BINDING_NOT_FOUND...)."""
    person = _caller(state, caller)
    if isinstance(person, Decision):
        return person
    binding = _held_binding(state, caller, relative)
    if isinstance(binding, Decision):
        return binding
    return person, binding


def _held_binding(state: State, caller: str, relative: str) -> Binding | Decision:
    """The caller's binding of ``relative``, or the refusal: BINDING_NOT_FOUND / NOT_HOLDER."""
    binding = state.binding_of.get(relative)
    if binding is None:
        return refuse(Code.BINDING_NOT_FOUND, f"{relative} 没有被任何共济人绑定")
    if binding.holder != caller:
        if caller == relative:  # a relative reaching for their own binding
            return refuse(Code.NOT_HOLDER,
                           f"{caller} 是被绑定的近亲属,只能查看,不能更改绑定关系(共济人是 {binding.holder})")
        return refuse(Code.NOT_HOLDER, f"{caller} 不是 {relative} 的共济人,不能更改此绑定关系")
    return binding


def _cap(fen: int | None) -> str | None:
    return None if fen is None else format_fen(fen)


def _binding_out(b: Binding) -> dict[str, Any]:
    return {"holder_psn_no": b.holder, "relative_psn_no": b.relative, "rltn": b.rltn,
            "cap": _cap(b.cap), "used": format_fen(b.used)}


def _face_refused() -> Decision:
    return refuse(Code.FACE_VERIFICATION_REQUIRED, "绑定和解绑需要共济人本人刷脸验证(face_verified: true)")


def bind(state: State, caller: str, cmd: Bind, now: datetime) -> Decision:
    """app.bind: the caller binds a relative; binding one they already hold updates the relation only."""
    if not cmd.face_verified:
        return _face_refused()
    refused = check_bind(BindingView(state), caller, cmd.relative_psn_no, cmd.rltn)
    if refused is not None:
        return refused
    existing = state.binding_of.get(cmd.relative_psn_no)
    if existing is not None:
        # The same holder again: keep cap, usage and creation time; only the relation can change.
        binding = replace(existing, rltn=cmd.rltn)
        return Decision(Code.OK, {**_binding_out(binding), "created": False}, "绑定关系已更新",
                        effects=(PutBinding(binding),))
    if state.policy_for(state.people[caller]).binding_consent:
        invite = Invite(caller, cmd.relative_psn_no, cmd.rltn, now)
        event = Event("binding.requested", now, {"holder_psn_no": caller, "relative_psn_no": cmd.relative_psn_no,
                                                 "rltn": cmd.rltn})
        output = {"holder_psn_no": caller, "relative_psn_no": cmd.relative_psn_no, "rltn": cmd.rltn,
                  "pending": True, "requested_at": iso(now)}
        return Decision(Code.OK, output, "已发出绑定邀请,待近亲属在本人 App 中确认",
                        effects=(PutInvite(invite),), events=(event,))
    return _create(state, caller, cmd.relative_psn_no, cmd.rltn, now, "app.bind")


def _create(state: State, holder: str, relative: str, rltn: str, now: datetime, via: str) -> Decision:
    binding = Binding(holder, relative, rltn, None, 0, now, state.next_binding)
    event = Event("binding.created", now, {"holder_psn_no": holder, "relative_psn_no": relative,
                                           "rltn": rltn, "via": via})
    # Every invitation to this relative is settled by the binding: one holder per relative.
    withdrawing, withdrawn = withdraw_invites(state, relative, holder, now)
    return Decision(Code.OK, {**_binding_out(binding), "created": True}, "绑定成功",
                    effects=(PutBinding(binding), *withdrawing), events=(event, *withdrawn))


def _invite_to(state: State, caller: str, holder: str) -> Invite | Decision:
    person = _caller(state, caller)
    if isinstance(person, Decision):
        return person
    invite = state.invites.get((caller, holder))
    if invite is None:
        return refuse(Code.BINDING_NOT_FOUND, f"没有 {holder} 发给 {caller} 的待确认绑定邀请")
    return invite


def accept(state: State, caller: str, cmd: Accept, now: datetime) -> Decision:
    """app.accept: the relative consents to the holder's invitation; the binding rules are checked again now."""
    if not cmd.face_verified:
        return refuse(Code.FACE_VERIFICATION_REQUIRED, "确认绑定需要近亲属本人刷脸验证(face_verified: true)")
    invite = _invite_to(state, caller, cmd.holder_psn_no)
    if isinstance(invite, Decision):
        return invite
    refused = check_bind(BindingView(state), invite.holder, caller, invite.rltn)
    if refused is not None:
        return refused
    return _create(state, invite.holder, caller, invite.rltn, now, "app.accept")


def decline(state: State, caller: str, cmd: Decline, now: datetime) -> Decision:
    """app.decline: the relative refuses the holder's invitation; nothing else changes."""
    invite = _invite_to(state, caller, cmd.holder_psn_no)
    if isinstance(invite, Decision):
        return invite
    data = {"holder_psn_no": invite.holder, "relative_psn_no": caller, "rltn": invite.rltn}
    return Decision(Code.OK, {**data, "declined": True}, "已拒绝绑定邀请",
                    effects=(DeleteInvite(caller, invite.holder),),
                    events=(Event("binding.declined", now, {**data, "reason": "declined"}),))


def unbind(state: State, caller: str, cmd: Unbind, now: datetime) -> Decision:
    """app.unbind: the holder removes a relative; the relative's open windows close with it."""
    if not cmd.face_verified:
        return _face_refused()
    found = _holder_and_binding(state, caller, cmd.relative_psn_no)
    if isinstance(found, Decision):
        return found
    _, binding = found
    effects, events = close_windows_of_holder(state, caller, now, "unbound", relative=binding.relative)
    effects.append(DeleteBinding(caller, binding.relative))
    events.append(Event("binding.removed", now, {"holder_psn_no": caller, "relative_psn_no": binding.relative,
                                                 "rltn": binding.rltn, "via": "app.unbind"}))
    return Decision(Code.OK, {**_binding_out(binding), "windows_closed": len(events) - 1}, "解绑成功",
                    effects=tuple(effects), events=tuple(events))


def set_cap(state: State, caller: str, cmd: SetCap, now: datetime) -> Decision:
    """app.set_cap: the holder's cumulative cap for one relative; ``null`` removes it.

    ``used`` is kept: a cap at or below it simply stops further pooling until cancels lower it.
    """
    found = _holder_and_binding(state, caller, cmd.relative_psn_no)
    if isinstance(found, Decision):
        return found
    _, binding = found
    updated = replace(binding, cap=cmd.cap)
    remaining = None if updated.cap is None else format_fen(max(0, updated.cap - updated.used))
    return Decision(Code.OK, {**_binding_out(updated), "remaining": remaining},
                    "限额已取消" if cmd.cap is None else "限额已设置", effects=(PutBinding(updated),))


def bindings(state: State, caller: str, cmd: Empty, now: datetime) -> Decision:
    """app.bindings: a holder sees each relative with cap and usage; a relative sees the family, read-only.

    Whatever the role, the answer also lists the pending invitations (policy ``binding_consent``) to the
    caller and from the caller: an invitation's event is at most once, and this is where an app that was
    offline finds it.
    """
    person = _caller(state, caller)
    if isinstance(person, Decision):
        return person
    pending = _pending(state, caller)
    own = state.binding_of.get(caller)
    if own is not None:
        holder = state.people[own.holder]
        others = sorted((b for b in state.relatives_of.get(own.holder, {}).values() if b.relative != caller),
                        key=lambda b: b.relative)
        output = {
            "role": "relative", "read_only": True, "holder": _who(holder),
            "self": {"psn_no": caller, "rltn": own.rltn, "cap": _cap(own.cap), "used": format_fen(own.used)},
            # The other relatives: who and how related, not their spending (that is the holder's to see).
            "relatives": [{**_who(state.people[b.relative]), "rltn": b.rltn} for b in others],
            **pending,
        }
        return Decision(Code.OK, output, "查询成功")
    family = sorted(state.relatives_of.get(caller, {}).values(), key=lambda b: b.relative)
    output = {
        "role": "holder" if family else "none", "read_only": False,
        "holder": _who(person) if family else None,
        "relatives": [{**_who(state.people[b.relative]), "rltn": b.rltn, "cap": _cap(b.cap),
                       "used": format_fen(b.used)} for b in family],
        **pending,
    }
    return Decision(Code.OK, output, "查询成功")


def _pending(state: State, caller: str) -> dict[str, list[dict[str, Any]]]:
    """The invitations waiting for the caller's consent (by holder), and those the caller sent (by relative)."""
    to_me = sorted((i for (r, _), i in state.invites.items() if r == caller), key=lambda i: i.holder)
    from_me = sorted((i for i in state.invites.values() if i.holder == caller), key=lambda i: i.relative)
    return {
        "invitations": [{"holder_psn_no": i.holder, "holder_name": state.people[i.holder].psn_name,
                         "rltn": i.rltn, "requested_at": iso(i.at)} for i in to_me],
        "invitations_sent": [{"relative_psn_no": i.relative, "rltn": i.rltn, "requested_at": iso(i.at)}
                             for i in from_me],
    }


def _who(p: Person) -> dict[str, Any]:
    return {"psn_no": p.psn_no, "psn_name": p.psn_name, "insutype": p.insutype, "insuplc_admdvs": p.admdvs,
            "status": p.status}


def records(state: State, caller: str, cmd: Records, now: datetime) -> Decision:
    """app.records: pooled spending from the caller's account, newest first, paged by ``before`` (a rec_id).

    Rows are kept oldest first with rising rec_ids, so a page is a bisect and a reversed slice (older
    rows are read back from the ledger file once they have left memory).
    """
    person = _caller(state, caller)
    if isinstance(person, Decision):
        return person
    page, more = state.records.page(caller, cmd.before, cmd.limit)
    output = {
        "records": [{"rec_id": r.rec_id, "setl_id": r.setl_id, "psn_no": r.psn_no,
                     "amount": format_fen(r.amount), "time": iso(r.at), "fixmedins_code": r.fixmedins_code}
                    for r in page],
        "next_before": page[-1].rec_id if more else None,
    }
    return Decision(Code.OK, output, "查询成功")


def pay_premium(state: State, caller: str, cmd: PayPremium, now: datetime) -> Decision:
    """app.pay_premium: the holder pays a bound resident relative's yearly premium, all of it or nothing."""
    found = _holder_and_binding(state, caller, cmd.relative_psn_no)
    if isinstance(found, Decision):
        return found
    person, binding = found
    relative = state.people[binding.relative]
    if relative.insutype != "390":
        # DOMAIN: the pooled account pays *resident-insurance* premiums; an employee's is paid by payroll.
        msg = f"{relative.psn_no} is employee-insured (310); only resident (390) premiums can be paid"
        return refuse(Code.INVALID_REQUEST, f"{relative.psn_no} 参加职工医保,不能用共济账户缴纳居民医保费",
                       {"errors": [{"loc": ["input", "relative_psn_no"], "msg": msg}]})
    if person.status != "active":
        return refuse(Code.HOLDER_SUSPENDED, f"共济人 {caller} 参保状态为暂停,个人账户不能共济")
    policy = state.policy_for(person)
    if policy.refuses_pooling_to(person.admdvs, relative.admdvs, relative.insutype):
        return refuse(Code.REGION_NOT_ALLOWED,
                       f"{policy.name} 政策不允许 {caller} 的个人账户为 {relative.psn_no} 共济")
    paid = state.premiums.get((relative.psn_no, cmd.year))
    if paid is not None:
        return refuse(Code.PREMIUM_ALREADY_PAID,
                       f"{relative.psn_no} 的 {cmd.year} 年度居民医保费已缴纳({format_fen(paid)} 元)")
    if person.balc < cmd.amount:
        return refuse(Code.INSUFFICIENT_BALANCE,
                       f"个人账户余额 {format_fen(person.balc)} 元不足以缴纳全部保费 "
                       f"{format_fen(cmd.amount)} 元")
    ref = f"premium:{relative.psn_no}:{cmd.year}"
    output = {"holder_psn_no": caller, "relative_psn_no": relative.psn_no, "year": cmd.year,
              "amount": format_fen(cmd.amount), "balc": format_fen(person.balc - cmd.amount)}
    return Decision(Code.OK, output, "缴费成功",
                    effects=(Move(caller, "@premium", cmd.amount, "premium", ref, now),
                             PutPremium(relative.psn_no, cmd.year, caller, cmd.amount, now)))

