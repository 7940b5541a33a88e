"""The clinic's visit: register (2201), cancel (2202), details (2203), fees (2204/2205), and settling a batch.

Strategy: a visit and its charge batches only gather what the clinic says; money moves only in
``switch/core/settlement.py``. A 2206/2207 naming a visit's batch is checked here (the visit is the
patient's, the batch is uploaded and unpaid, the fee is the batch's total) and then settled by the
same rules as any other, so the retry window and pooling cannot differ between the two flows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from switch.core import settlement as settle_core
from switch.core.clinic import Batch, FeeItem, PutBatch, PutVisit, Visit, batch_in_force, batches_of, visit_id
from switch.core.codes import Code
from switch.core.model import Decision, Effect, State, refuse
from switch.core.money import format_fen
from switch.wire.inputs import OutpatientData
from switch.wire.inputs_visit import FeeLine, FeeUpload, FeeWithdraw, VisitCancel, VisitInfo, VisitRegister

__all__ = ["cancel_visit", "register", "settle_visit", "upload_fees", "visit_info", "withdraw_fees"]

ZERO = "0.00"


def _invalid(msg: str, loc: list[str | int], err_msg: str) -> Decision:
    return refuse(Code.INVALID_REQUEST, err_msg, {"errors": [{"loc": ["input", *loc], "msg": msg}]})


def _visit_of(state: State, mdtrt_id: str, psn_no: str, fixmedins_code: str) -> Visit | Decision:
    """The open visit ``mdtrt_id`` of ``psn_no`` at this institution, or VISIT_NOT_FOUND."""
    visit = state.visits.get(mdtrt_id)
    if visit is None or visit.status != "open" or visit.psn_no != psn_no or visit.fixmedins_code != fixmedins_code:
        return refuse(Code.VISIT_NOT_FOUND, f"本机构没有参保人 {psn_no} 的有效就诊 {mdtrt_id}")
    return visit


def _settled(state: State, visit: Visit) -> list[Batch]:
    return [b for b in batches_of(state, visit.mdtrt_id) if batch_in_force(state, b)]


def register(state: State, cmd: VisitRegister, fixmedins_code: str, now: datetime) -> Decision:
    """2201: the certificate must be the patient's own and the insurance in force."""
    patient = state.people.get(cmd.psn_no)
    if patient is None:
        return refuse(Code.PERSON_NOT_FOUND, f"参保人 {cmd.psn_no} 不存在")
    if state.cert_owner.get((cmd.mdtrt_cert_type, cmd.mdtrt_cert_no)) != patient.psn_no:
        return refuse(Code.CERT_MISMATCH,
                      f"凭证(类型 {cmd.mdtrt_cert_type})不是参保人 {patient.psn_no} 本人的;钱可以共济,卡不能共用")
    if cmd.insutype is not None and cmd.insutype != patient.insutype:
        return _invalid(f"person {patient.psn_no} is insured under {patient.insutype}", ["data", "insutype"],
                        f"参保人 {patient.psn_no} 的险种是 {patient.insutype},不是 {cmd.insutype}")
    if patient.status != "active":
        return refuse(Code.INSURANCE_SUSPENDED, f"参保人 {patient.psn_no} 参保状态为暂停(减员中断参保)")
    visit = Visit(visit_id(state.next_visit), patient.psn_no, fixmedins_code, patient.insutype,
                  cmd.mdtrt_cert_type, cmd.ipt_otp_no, now)
    output = {"data": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "ipt_otp_no": visit.ipt_otp_no}}
    return Decision(Code.OK, output, "挂号成功", effects=(PutVisit(visit),))


def cancel_visit(state: State, cmd: VisitCancel, fixmedins_code: str) -> Decision:
    """2202: a visit with nothing settled is cancelled, with its batches; a settled one is VISIT_SETTLED."""
    visit = _visit_of(state, cmd.mdtrt_id, cmd.psn_no, fixmedins_code)
    if isinstance(visit, Decision):
        return visit
    settled = _settled(state, visit)
    if settled:
        return refuse(Code.VISIT_SETTLED, f"就诊 {visit.mdtrt_id} 已结算(批次 {settled[0].chrg_bchno},"
                                          f"结算 {settled[0].setl_id});先撤销结算(2208)")
    effects: list[Effect] = [PutVisit(replace(visit, status="cancelled"))]
    effects += [PutBatch(replace(b, status="withdrawn")) for b in batches_of(state, visit.mdtrt_id)
                if b.status == "uploaded"]
    return Decision(Code.OK, {}, "挂号撤销成功", effects=tuple(effects))


def visit_info(state: State, cmd: VisitInfo, fixmedins_code: str) -> Decision:
    """2203: the visit's medical type and diagnosis; a later 2203 replaces an earlier one."""
    info = cmd.mdtrtinfo
    visit = _visit_of(state, info.mdtrt_id, info.psn_no, fixmedins_code)
    if isinstance(visit, Decision):
        return visit
    updated = replace(visit, med_type=info.med_type or visit.med_type, dise_codg=info.dise_codg,
                      dise_name=info.dise_name)
    return Decision(Code.OK, {}, "就诊信息上传成功", effects=(PutVisit(updated),))


def _line_problem(index: int, line: FeeLine, first: FeeLine, seen: set[str]) -> Decision | None:
    """What is wrong with fee line ``index`` on its own or beside the others, naming it."""
    where: list[str | int] = ["feedetail", index]
    for name in ("mdtrt_id", "psn_no", "chrg_bchno"):
        if getattr(line, name) != getattr(first, name):
            return _invalid(f"one 2204 uploads one batch of one visit: {name} differs from the first line's",
                            [*where, name], f"费用明细 {line.feedetl_sn} 的 {name} 与第一条不同")
    expected = int((line.cnt * line.pric).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if expected != line.det_item_fee_sumamt:
        return _invalid(f"det_item_fee_sumamt {format_fen(line.det_item_fee_sumamt)} is not cnt {line.cnt} "
                        f"x pric {format_fen(line.pric)} = {format_fen(expected)} (feedetl_sn {line.feedetl_sn})",
                        [*where, "det_item_fee_sumamt"],
                        f"费用明细 {line.feedetl_sn}:金额 {format_fen(line.det_item_fee_sumamt)} "
                        f"不等于数量 {line.cnt} × 单价 {format_fen(line.pric)} = {format_fen(expected)}")
    if line.feedetl_sn in seen:
        return _invalid(f"feedetl_sn {line.feedetl_sn} was already uploaded to visit {line.mdtrt_id}",
                        [*where, "feedetl_sn"], f"费用明细 {line.feedetl_sn} 已上传到就诊 {line.mdtrt_id}")
    seen.add(line.feedetl_sn)
    return None


def upload_fees(state: State, cmd: FeeUpload, fixmedins_code: str, now: datetime) -> Decision:
    """2204: fee lines of one batch; added to the batch while it is unpaid, its lines each checked."""
    first = cmd.feedetail[0]
    visit = _visit_of(state, first.mdtrt_id, first.psn_no, fixmedins_code)
    if isinstance(visit, Decision):
        return visit
    batch = state.visits.batch(visit.mdtrt_id, first.chrg_bchno)
    if batch is not None and batch_in_force(state, batch):
        return refuse(Code.VISIT_SETTLED, f"批次 {batch.chrg_bchno} 已结算({batch.setl_id}),不能再上传")
    # A withdrawn batch's lines no longer count: the clinic may upload the same chrg_bchno afresh.
    seen = {item.feedetl_sn for b in batches_of(state, visit.mdtrt_id) if b.status == "uploaded" for item in b.items}
    for index, line in enumerate(cmd.feedetail):
        problem = _line_problem(index, line, first, seen)
        if problem is not None:
            return problem
    items = tuple(FeeItem(line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, line.det_item_fee_sumamt)
                  for line in cmd.feedetail)
    if batch is None or batch.status != "uploaded" or batch.setl_id is not None:
        # A new batch, a withdrawn one uploaded again, or one freed by a cancelled settlement: its own lines
        # stay (they were paid once and refunded), the new ones are added.
        kept = batch.items if batch is not None and batch.status == "uploaded" else ()
        batch = Batch(visit.mdtrt_id, first.chrg_bchno, visit.psn_no, kept, now)
    updated = replace(batch, items=batch.items + items)
    return Decision(Code.OK, {"result": [_result(line) for line in cmd.feedetail]}, "费用明细上传成功",
                    effects=(PutBatch(updated),))


def _result(line: FeeLine) -> dict[str, Any]:
    """2204's answer per line: gongji has no catalogue, so every fee is fully in scope (甲类, no self-pay)."""
    amount = format_fen(line.det_item_fee_sumamt)
    cnt = line.cnt.normalize()
    return {"feedetl_sn": line.feedetl_sn, "det_item_fee_sumamt": amount,
            "cnt": int(cnt) if cnt == cnt.to_integral_value() else float(cnt), "pric": format_fen(line.pric),
            "pric_uplmt_amt": format_fen(line.pric), "selfpay_prop": "0", "fulamt_ownpay_amt": ZERO,
            "overlmt_amt": ZERO, "preselfpay_amt": ZERO, "inscp_scp_amt": amount, "chrgitm_lv": "01",
            "med_chrgitm_type": None}


def withdraw_fees(state: State, cmd: FeeWithdraw, fixmedins_code: str) -> Decision:
    """2205: an uploaded, unpaid batch is withdrawn; a paid one is VISIT_SETTLED."""
    visit = _visit_of(state, cmd.mdtrt_id, cmd.psn_no, fixmedins_code)
    if isinstance(visit, Decision):
        return visit
    batch = state.visits.batch(visit.mdtrt_id, cmd.chrg_bchno)
    if batch is None or batch.status != "uploaded":
        return refuse(Code.FEES_NOT_FOUND, f"就诊 {visit.mdtrt_id} 没有未撤销的收费批次 {cmd.chrg_bchno}")
    if batch_in_force(state, batch):
        return refuse(Code.VISIT_SETTLED, f"批次 {batch.chrg_bchno} 已结算({batch.setl_id});先撤销结算(2208)")
    return Decision(Code.OK, {}, "费用明细撤销成功", effects=(PutBatch(replace(batch, status="withdrawn")),))


def settle_visit(state: State, cmd: settle_core.SettleCommand, now: datetime) -> Decision:
    """2206/2207: with ``mdtrt_id`` and ``chrg_bchno``, settle that batch of that visit; without, as v1."""
    data = cmd.data
    if not isinstance(data, OutpatientData) or data.mdtrt_id is None:
        return settle_core.settle(state, cmd, now)
    if data.chrg_bchno is None:
        return _invalid("with mdtrt_id, chrg_bchno (the batch to settle) is required", ["data", "chrg_bchno"],
                        "结算就诊费用须给出收费批次号 chrg_bchno")
    visit = _visit_of(state, data.mdtrt_id, data.psn_no, cmd.fixmedins_code)
    if isinstance(visit, Decision):
        return visit
    batch = state.visits.batch(visit.mdtrt_id, data.chrg_bchno)
    if batch is None or batch.status != "uploaded" or not batch.items:
        return refuse(Code.FEES_NOT_FOUND, f"就诊 {visit.mdtrt_id} 没有已上传的收费批次 {data.chrg_bchno}")
    if batch_in_force(state, batch):
        return refuse(Code.VISIT_SETTLED, f"批次 {batch.chrg_bchno} 已结算({batch.setl_id});一个批次只结算一次")
    if data.medfee_sumamt != batch.total:
        return refuse(Code.FEE_MISMATCH, f"medfee_sumamt {format_fen(data.medfee_sumamt)} 与批次 {batch.chrg_bchno} "
                                         f"的费用明细合计 {format_fen(batch.total)} 不符")
    decision = settle_core.settle(state, replace(cmd, mdtrt_id=visit.mdtrt_id), now)
    return _tie(state, decision, cmd, visit, batch)


def _tie(state: State, decision: Decision, cmd: settle_core.SettleCommand, visit: Visit, batch: Batch) -> Decision:
    """The settlement pays the batch; a certificate not the patient's is noted (``warn_msg``), not refused."""
    effects = decision.effects
    if decision.code is Code.OK and decision.setl_id is not None:
        effects = (*effects, PutBatch(replace(batch, setl_id=decision.setl_id)))
    owner = state.cert_owner.get((cmd.data.mdtrt_cert_type, cmd.data.mdtrt_cert_no))
    output = decision.output
    if owner != visit.psn_no and decision.code is Code.OK and output is not None:
        note = (f"mdtrt_cert_no is not a type {cmd.data.mdtrt_cert_type} certificate of {visit.psn_no}; "
                f"settled as visit {visit.mdtrt_id}'s patient, whose certificate was checked at 2201")
        output = {**output, "warn_msg": note}
    return replace(decision, effects=effects, output=output)
