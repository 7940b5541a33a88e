"""Settlement decisions: 1101, pre-settlement, settlement, cancel and reversal, for both flows.

Everything that decides who pays what lives here. Given the state and ``now`` it returns a
``Decision``; it reads no clock, does no I/O and changes nothing (the caller applies the effects).

Payment order of the personal part S = medfee − fund: own account, then the holder's account
(``acct_mulaid_pay``), then cash. Under a retry-window policy the first swipe that would need the
holder is declined with the prompt and opens a window for (psn_no, fixmedins_code); a swipe
inside [opened_at, expires_at) is pooled and uses the window up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from sys import intern
from typing import Any

from switch.core import platform
from switch.core.codes import Code, pooling_prompt
from switch.core.model import (
    Binding,
    CloseWindow,
    Decision,
    Effect,
    Event,
    Move,
    OpenWindow,
    Original,
    Person,
    PutRecord,
    PutSettlement,
    PutTombstone,
    Record,
    Settlement,
    State,
    UndoSettlement,
    UseCap,
    Window,
    iso,
    refuse,
)
from switch.core.money import format_fen, round_half_up
from switch.core.policy import Policy
from switch.wire.inputs import Cancel, PersonQuery, Reverse, SettleData

__all__ = ["Original", "SettleCommand", "cancel", "person_info", "reverse", "settle"]

SETTLING_INFNOS = ("2102", "2207")
ZERO = platform.ZERO
# Settlements written before the ledger kept med_type (the table's defaults then: 41 pharmacy, 11 outpatient).
_LEGACY_MED_TYPE = {"2102": "41", "2207": "11"}


@dataclass(slots=True, unsafe_hash=True)  # a value, not frozen for speed (see model.py's effects)
class SettleCommand:
    """A settlement request; ``pre`` and ``med_type`` come from its transaction's entry, not from its infno."""

    infno: str  # 2101 / 2102 / 2206 / 2207
    terminal_id: str
    msgid: str
    fixmedins_code: str
    data: SettleData
    pre: bool  # pre-settlement (2101/2206): answer what settling now would do, changing nothing
    med_type: str  # the medical type (医疗类别) when the request names none: 41 pharmacy, 11 outpatient
    mdtrt_id: str | None = None  # a registered visit, already checked (switch/core/visiting.py): no cert check


# Where a settlement's fields are in its input: 2101/2102's druginfo, 2206/2207's data.
_BODY_KEY = {"2101": "druginfo", "2102": "druginfo", "2206": "data", "2207": "data"}


@dataclass(slots=True, unsafe_hash=True)
class _Pooling:
    binding: Binding
    holder: Person
    policy: Policy
    available: int  # min(holder balance, cap remaining)


def person_info(state: State, query: PersonQuery, now: datetime) -> Decision:
    """1101: who holds this certificate, their insurance, and whom they may pool from."""
    owner = state.cert_owner.get((query.mdtrt_cert_type, query.mdtrt_cert_no))
    if owner is None:
        return refuse(Code.PERSON_NOT_FOUND,
                      f"没有证件类型 {query.mdtrt_cert_type} 号码 {query.mdtrt_cert_no} 的参保人")
    if query.psn_no is not None and query.psn_no != owner:
        return refuse(Code.CERT_MISMATCH, f"证件不属于参保人 {query.psn_no}(钱可以共济,卡不能共用)")
    person = state.people[owner]
    binding = state.binding_of.get(owner)
    mulaid = None
    if binding is not None:
        holder = state.people[binding.holder]
        mulaid = {"holder_psn_no": holder.psn_no, "holder_name": holder.psn_name, "rltn": binding.rltn}
    return Decision(
        code=Code.OK, err_msg="查询成功",
        output={"baseinfo": platform.baseinfo(person, now), "insuinfo": [platform.insuinfo(person)],
                "idetinfo": [], "mulaid": mulaid},
    )


def usable_pooling(state: State, patient: Person) -> _Pooling | None:
    """The holder's account this patient may spend from now, or None (the rules of PROTOCOL step 2)."""
    binding = state.binding_of.get(patient.psn_no)
    if binding is None:
        return None
    holder = state.people[binding.holder]
    if holder.status != "active" or holder.balc <= 0:
        return None
    policy = state.policy_for(holder)
    if policy.refuses_pooling_to(holder.admdvs, patient.admdvs, patient.insutype):
        return None
    available = holder.balc
    if binding.cap is not None:
        available = min(available, binding.cap - binding.used)
    if available <= 0:
        return None
    return _Pooling(binding, holder, policy, available)


def _check_patient(state: State, cmd: SettleCommand) -> Person | Decision:
    data, visit = cmd.data, cmd.mdtrt_id
    patient = state.people.get(data.psn_no)
    if patient is None:
        return refuse(Code.PERSON_NOT_FOUND, f"参保人 {data.psn_no} 不存在")
    if visit is None and state.cert_owner.get((data.mdtrt_cert_type, data.mdtrt_cert_no)) != patient.psn_no:
        return refuse(
            Code.CERT_MISMATCH,
            f"凭证(类型 {data.mdtrt_cert_type})不是参保人 {patient.psn_no} 本人的;钱可以共济,卡不能共用",
        )
    if data.insutype is not None and data.insutype != patient.insutype:
        return refuse(
            Code.INVALID_REQUEST,
            f"参保人 {patient.psn_no} 的险种是 {patient.insutype},不是 {data.insutype}",
            {"errors": [{"loc": ["input", _BODY_KEY.get(cmd.infno, "data"), "insutype"],
                         "msg": f"person {patient.psn_no} is insured under {patient.insutype}"}]},
        )
    if patient.status != "active":
        return refuse(Code.INSURANCE_SUSPENDED, f"参保人 {patient.psn_no} 参保状态为暂停(减员中断参保)")
    return patient


@dataclass(slots=True)
class _Parts:
    """Who pays what of one settlement, in fen."""

    medfee: int
    fund: int
    acct: int = 0
    mulaid: int = 0
    cash: int = 0
    balc: int = 0  # the patient's own balance after
    holder: str | None = None
    binding_id: int | None = None  # the binding the pooled part was spent under


def _setlinfo(patient: Person, p: _Parts, at: datetime, setl_id: str | None, infno: str, msgid: str,
              med_type: str | None, cert_type: str | None, sign: int = 1,
              visit: str | None = None) -> dict[str, Any]:
    """v1's setlinfo, then the platform's fields (docs/national.md), built as one literal: it is on
    every settlement's path, and a literal costs a fraction of the same keys stored one by one."""
    psn_cert_type, certno, gend, brdy, age = platform.who(patient, at)
    fund = format_fen(sign * p.fund)
    medfee = format_fen(sign * p.medfee)
    info: dict[str, Any] = {
        "setl_id": setl_id, "psn_no": patient.psn_no, "psn_name": patient.psn_name, "insutype": patient.insutype,
        "setl_time": iso(at), "medfee_sumamt": medfee, "fund_pay_sumamt": fund,
        "acct_pay": format_fen(sign * p.acct), "acct_mulaid_pay": format_fen(sign * p.mulaid),
        "psn_cash_pay": format_fen(sign * p.cash), "balc": format_fen(p.balc), "mulaid_psn_no": p.holder,
        "mdtrt_id": visit or (setl_id and platform.mdtrt_id_of(setl_id)), "psn_cert_type": psn_cert_type,
        "certno": certno, "gend": gend, "brdy": brdy, "age": age, "psn_type": platform.PSN_TYPE[patient.insutype],
        "mdtrt_cert_type": cert_type, "med_type": med_type, "hifp_pay": fund,
        "psn_part_amt": format_fen(sign * (p.acct + p.mulaid + p.cash)), "fulamt_ownpay_amt": ZERO,
        "overlmt_selfpay": ZERO, "preselfpay_amt": ZERO, "inscp_scp_amt": medfee, "hosp_part_amt": ZERO,
        "medins_setl_id": msgid, "clr_optins": patient.admdvs, "clr_way": platform.CLR_WAY,
        "clr_type": platform.CLR_TYPE[infno],
    }
    if setl_id is None:  # a pre-settlement settles nothing: no settlement, no visit but a registered one
        del info["setl_id"]
        if visit is None:
            del info["mdtrt_id"]
    return info


def _settled(info: dict[str, Any], patient: Person, p: _Parts, sign: int = 1) -> dict[str, Any]:
    """The output of a settlement: setlinfo, and setldetail beside it as the platform sends it."""
    return {"setlinfo": info, "setldetail": platform.setldetail(patient.insutype, p.fund, p.medfee, sign)}


def settle(state: State, cmd: SettleCommand, now: datetime) -> Decision:
    """2101/2102/2206/2207. Pre-settlement (2101/2206) answers what settling now would do, changing nothing."""
    data = cmd.data
    if not cmd.pre and state.tombstones.get((cmd.terminal_id, cmd.msgid)) == cmd.infno:
        return refuse(Code.REVERSED, f"消息 {cmd.msgid} 已被冲正(2601),本次结算不予处理")
    checked = _check_patient(state, cmd)
    if isinstance(checked, Decision):
        return _declined(checked, cmd, now)
    patient = checked
    med_type = data.med_type or cmd.med_type
    medfee = data.medfee_sumamt
    parts = _Parts(medfee, round_half_up(medfee, state.policy_for(patient).fund_ratio_for(patient.insutype,
                                                                                          med_type)))
    effects: list[Effect] = []
    events: list[Event] = []
    prompt = _split(state, cmd, patient, parts, now, effects, events)
    if prompt is not None:
        return prompt
    if cmd.pre:
        info = _setlinfo(patient, parts, now, None, cmd.infno, cmd.msgid, med_type, data.mdtrt_cert_type,
                         visit=cmd.mdtrt_id)
        return Decision(code=Code.OK, err_msg="预结算成功", output=_settled(info, patient, parts))
    return _commit(state, cmd, patient, parts, med_type, now, effects, events)


def _split(state: State, cmd: SettleCommand, patient: Person, parts: _Parts, now: datetime,
           effects: list[Effect], events: list[Event]) -> Decision | None:
    """Fill in acct / mulaid / cash / balc of ``parts``; or the retry window's decline (a Decision)."""
    self_pay = parts.medfee - parts.fund
    own = patient.balc if patient.insutype == "310" else 0
    if cmd.data.acct_used_flag == "1":
        pooling = usable_pooling(state, patient)
        own_first = pooling is None or pooling.policy.own_first
        parts.acct = min(self_pay, own) if own_first else 0
        shortfall = self_pay - parts.acct
        if shortfall > 0 and pooling is not None:
            key = (patient.psn_no, cmd.fixmedins_code)
            window = _open_window(state, key, now, effects, events)
            if pooling.policy.flow == "retry_window":
                if window is None:
                    return _prompt(cmd, patient, pooling, parts.medfee, parts.fund, self_pay, own, shortfall, now,
                                   effects, events)
                effects.append(CloseWindow(*key))
                events.append(Event("window.used", now, _window_data(window)))
            parts.mulaid = min(shortfall, pooling.available)
            parts.holder = pooling.holder.psn_no if parts.mulaid else None
            parts.binding_id = pooling.binding.bid if parts.mulaid else None
            if not own_first:
                parts.acct = min(self_pay - parts.mulaid, own)
    parts.cash = self_pay - parts.acct - parts.mulaid
    parts.balc = own - parts.acct if patient.insutype == "310" else 0
    return None


def _commit(state: State, cmd: SettleCommand, patient: Person, p: _Parts, med_type: str, now: datetime,
            effects: list[Effect], events: list[Event]) -> Decision:
    """2102/2207: the settlement record, the money moves and the pooled-spending record."""
    setl_id = f"SETL{state.next_setl:010d}"
    # Kept for the ledger's life: the names every settlement repeats are shared, not a parsed copy each.
    record = Settlement(
        setl_id=setl_id, infno=intern(cmd.infno), terminal_id=intern(cmd.terminal_id), msgid=cmd.msgid,
        fixmedins_code=intern(cmd.fixmedins_code), psn_no=patient.psn_no, psn_name=patient.psn_name,
        insutype=patient.insutype, setl_time=now, medfee=p.medfee, fund=p.fund, acct=p.acct, mulaid=p.mulaid,
        cash=p.cash, balc=p.balc, holder=p.holder, med_type=intern(med_type),
        mdtrt_cert_type=intern(cmd.data.mdtrt_cert_type),
        binding_id=p.binding_id if p.holder is not None else None, mdtrt_id=cmd.mdtrt_id,
    )
    effects.append(PutSettlement(record))
    if p.acct:
        effects.append(Move(patient.psn_no, "@paid", p.acct, "acct_pay", setl_id, now))
    if p.mulaid and p.holder is not None:
        effects.append(Move(p.holder, "@paid", p.mulaid, "acct_mulaid_pay", setl_id, now))
        effects.append(UseCap(patient.psn_no, p.holder, p.mulaid, record.binding_id or 0))
        effects.append(PutRecord(Record(state.next_record, p.holder, setl_id, patient.psn_no, p.mulaid, now,
                                        cmd.fixmedins_code)))
    info = _setlinfo(patient, p, now, setl_id, cmd.infno, cmd.msgid, med_type, cmd.data.mdtrt_cert_type,
                     visit=cmd.mdtrt_id)
    events.append(Event("settlement.committed", now, _settlement_event(record, info)))
    return Decision(code=Code.OK, err_msg="结算成功", output=_settled(info, patient, p), effects=tuple(effects),
                    events=tuple(events), setl_id=setl_id)


def _prompt(
    cmd: SettleCommand, patient: Person, pooling: _Pooling, medfee: int, fund: int, self_pay: int, own: int,
    shortfall: int, now: datetime, effects: list[Effect], events: list[Event],
) -> Decision:
    seconds = pooling.policy.window_seconds
    expires = now + timedelta(microseconds=int(seconds * 1_000_000))
    output = {
        "psn_no": patient.psn_no, "medfee_sumamt": format_fen(medfee), "fund_pay_sumamt": format_fen(fund),
        "self_pay": format_fen(self_pay), "acct_balc": format_fen(own), "shortfall": format_fen(shortfall),
        "mulaid_psn_no": pooling.holder.psn_no, "window_expires_at": iso(expires),
        "window_seconds": int(seconds) if seconds == int(seconds) else float(seconds),
    }
    if cmd.pre:  # the same answer a settlement would get now, with no side effect
        return Decision(code=Code.POOLING_AVAILABLE, err_msg=pooling_prompt(float(seconds)), output=output)
    window = Window(patient.psn_no, cmd.fixmedins_code, pooling.holder.psn_no, now, expires)
    effects.append(OpenWindow(window))
    events.append(Event("window.opened", now, _window_data(window)))
    events.append(Event("settlement.declined", now, {
        "terminal_id": cmd.terminal_id, "msgid": cmd.msgid, "infno": cmd.infno,
        "fixmedins_code": cmd.fixmedins_code, "psn_no": patient.psn_no, "code": Code.POOLING_AVAILABLE.value,
        "shortfall": format_fen(shortfall), "mulaid_psn_no": pooling.holder.psn_no,
    }))
    return Decision(code=Code.POOLING_AVAILABLE, err_msg=pooling_prompt(float(seconds)), output=output,
                    effects=tuple(effects), events=tuple(events))


def _declined(decision: Decision, cmd: SettleCommand, now: datetime) -> Decision:
    if cmd.pre:
        return decision
    event = Event("settlement.declined", now, {
        "terminal_id": cmd.terminal_id, "msgid": cmd.msgid, "infno": cmd.infno,
        "fixmedins_code": cmd.fixmedins_code, "psn_no": cmd.data.psn_no, "code": decision.code.value,
    })
    return Decision(code=decision.code, err_msg=decision.err_msg, output=decision.output, events=(event,))


def _open_window(state: State, key: tuple[str, str], now: datetime, effects: list[Effect],
                 events: list[Event]) -> Window | None:
    """The window of ``key`` if open now, on [opened_at, expires_at); one outside that is closed and announced."""
    window = state.windows.get(key)
    if window is None or window.opened_at <= now < window.expires_at:
        return window
    effects.append(CloseWindow(*key))
    if now >= window.expires_at:
        events.append(Event("window.expired", now, _window_data(window)))
    else:  # before opened_at: only a virtual clock moved back behind the window can get here
        events.append(Event("window.closed", now, {"psn_no": window.psn_no, "fixmedins_code": window.fixmedins_code,
                                                   "holder_psn_no": window.holder, "reason": "not_yet_open"}))
    return None


def _window_data(window: Window) -> dict[str, Any]:
    return {"psn_no": window.psn_no, "fixmedins_code": window.fixmedins_code, "holder_psn_no": window.holder,
            "opened_at": iso(window.opened_at), "expires_at": iso(window.expires_at)}


def _settlement_event(s: Settlement, info: dict[str, Any]) -> dict[str, Any]:
    """The settlement.committed data; the amounts are the answer's own strings (formatted once)."""
    return {
        "setl_id": s.setl_id, "infno": s.infno, "terminal_id": s.terminal_id, "msgid": s.msgid,
        "fixmedins_code": s.fixmedins_code, "psn_no": s.psn_no, "medfee_sumamt": info["medfee_sumamt"],
        "fund_pay_sumamt": info["fund_pay_sumamt"], "acct_pay": info["acct_pay"],
        "acct_mulaid_pay": info["acct_mulaid_pay"], "psn_cash_pay": info["psn_cash_pay"],
        "mulaid_psn_no": s.holder,
    }


def _undo(state: State, s: Settlement, status: str, now: datetime) -> tuple[list[Effect], dict[str, Any]]:
    """Refund every source of a settlement in full: own account, holder account, the holder's cap."""
    effects: list[Effect] = [UndoSettlement(s.setl_id, status)]
    if s.acct:
        effects.append(Move("@paid", s.psn_no, s.acct, f"{status}:acct_pay", s.setl_id, now))
    if s.mulaid and s.holder is not None:
        effects.append(Move("@paid", s.holder, s.mulaid, f"{status}:acct_mulaid_pay", s.setl_id, now))
        if s.binding_id is not None:  # only to the binding it was spent under (a rebinding starts afresh)
            effects.append(UseCap(s.psn_no, s.holder, -s.mulaid, s.binding_id))
        effects.append(PutRecord(Record(state.next_record, s.holder, s.setl_id, s.psn_no, -s.mulaid, now,
                                        s.fixmedins_code)))
    patient = state.people[s.psn_no]
    balc = patient.balc + s.acct if patient.insutype == "310" else 0
    parts = _Parts(s.medfee, s.fund, s.acct, s.mulaid, s.cash, balc, s.holder)
    # setl_time stays the settlement's (what the receipt said); the moment it was undone is undo_time.
    info = _setlinfo(patient, parts, s.setl_time, s.setl_id, s.infno, s.msgid,
                     s.med_type or _LEGACY_MED_TYPE[s.infno], s.mdtrt_cert_type, -1, s.mdtrt_id)
    return effects, {**_settled(info, patient, parts, -1), "undo_time": iso(now)}


def cancel(state: State, cmd: Cancel, infno: str, now: datetime, *, terminal_id: str,
           fixmedins_code: str) -> Decision:
    """2103/2208: refund this person's settlement made by the institution that asks; another institution's
    is answered like one that does not exist (a terminal must not learn which setl_ids are real elsewhere)."""
    s = state.settlements.get(cmd.setl_id)
    if s is None or s.psn_no != cmd.psn_no or s.fixmedins_code != fixmedins_code:
        return refuse(Code.SETTLEMENT_NOT_FOUND, f"参保人 {cmd.psn_no} 没有结算 {cmd.setl_id}")
    if s.status != "settled":
        return refuse(Code.ALREADY_CANCELLED, f"结算 {cmd.setl_id} 已撤销")
    effects, output = _undo(state, s, "cancelled", now)
    event = Event("settlement.cancelled", now, {"setl_id": s.setl_id, "psn_no": s.psn_no, "infno": infno,
                                                "terminal_id": s.terminal_id, "fixmedins_code": s.fixmedins_code,
                                                "cancelled_by": terminal_id, "mulaid_psn_no": s.holder})
    return Decision(code=Code.OK, err_msg="撤销成功", output=output, effects=tuple(effects),
                    events=(event,), setl_id=s.setl_id)


def reverse(state: State, cmd: Reverse, terminal_id: str, original: Original | None, now: datetime) -> Decision:
    """2601: undo this terminal's own settlement ``omsgid``, even if it has not arrived yet."""
    if cmd.oinfno not in SETTLING_INFNOS:
        return refuse(Code.NOT_REVERSIBLE, f"交易 {cmd.oinfno} 不可冲正,只能冲正 2102 / 2207")
    base = {"psn_no": cmd.psn_no, "omsgid": cmd.omsgid, "oinfno": cmd.oinfno}
    if original is None:
        if (terminal_id, cmd.omsgid) in state.tombstones:
            return Decision(Code.OK, {**base, "reversed": False}, "原交易未到达,冲正已登记")
        return Decision(
            code=Code.OK, output={**base, "reversed": False}, err_msg="原交易未到达,冲正已登记,原交易到达时将被拒绝",
            effects=(PutTombstone(terminal_id, cmd.omsgid, cmd.oinfno),),
        )
    if original.infno != cmd.oinfno or original.setl_id is None:
        why = "原交易未结算" if original.infno == cmd.oinfno else f"原交易是 {original.infno},不是 {cmd.oinfno}"
        return Decision(Code.OK, {**base, "reversed": False}, f"{why},无需冲正")
    s = state.settlements[original.setl_id]
    if s.psn_no != cmd.psn_no:
        return refuse(Code.SETTLEMENT_NOT_FOUND, f"原交易 {cmd.omsgid} 不是参保人 {cmd.psn_no} 的结算")
    if s.status != "settled":
        return Decision(Code.OK, {**base, "reversed": False, "setl_id": s.setl_id}, "原结算已撤销,无需冲正")
    effects, output = _undo(state, s, "reversed", now)
    event = Event("settlement.reversed", now, {"setl_id": s.setl_id, "psn_no": s.psn_no, "omsgid": cmd.omsgid,
                                               "terminal_id": terminal_id, "mulaid_psn_no": s.holder})
    return Decision(code=Code.OK, err_msg="冲正成功", output={**base, "reversed": True, **output},
                    effects=tuple(effects), events=(event,), setl_id=s.setl_id)
