"""A clinic till against the pure core, through the transaction table: each call decided and committed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switch.core.model import Decision, State, apply
from switch.core.settlement import Original
from switch.service.clock import VirtualClock
from switch.service.context import Context
from switch.service.faults import FaultBook
from switch.service.transactions import TABLE

__all__ = ["Till", "fee_line", "register_input", "settle_input"]


class _NoReplies:
    def original(self, sender: str, msgid: str) -> Original | None:
        return None


class Till:
    """One institution's till: ``send`` validates the input as the service does, decides, commits."""

    def __init__(self, state: State, now: datetime, fixmedins_code: str = "P37050000001") -> None:
        self.state, self.now, self.fixmedins_code = state, now, fixmedins_code
        self.sign_no: str | None = None
        self._n = 0

    def send(self, infno: str, raw: dict[str, Any], *, at: datetime | None = None,
             fixmedins_code: str | None = None) -> Decision:
        self._n += 1
        entry = TABLE[("pos", infno)]
        now = at or self.now
        ctx = Context(self.state, infno, "T1", f"m{self._n}", fixmedins_code or self.fixmedins_code, now,
                      VirtualClock(now), FaultBook(), _NoReplies(), sign_no=self.sign_no)
        decision = entry.decide(ctx, entry.input.model_validate(raw))
        for effect in decision.effects:
            apply(self.state, effect)
        return decision

    def visit(self, psn_no: str) -> str:
        """Register a visit of ``psn_no`` with their own certificate; its mdtrt_id."""
        decision = self.send("2201", register_input(psn_no))
        assert decision.code == "OK", decision
        return str(decision.output["data"]["mdtrt_id"])  # type: ignore[index]

    def upload(self, mdtrt_id: str, psn_no: str, batch: str, *lines: tuple[str, str, str]) -> Decision:
        """2204 of (feedetl_sn, cnt, pric) lines, each amount cnt x pric."""
        return self.send("2204", {"feedetail": [fee_line(sn, mdtrt_id, psn_no, batch, cnt, pric)
                                                for sn, cnt, pric in lines]})


def register_input(psn_no: str, cert_no: str | None = None) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "insutype": "", "begntime": "2026-11-25 10:00:00", "mdtrt_cert_type": "01",
                     "mdtrt_cert_no": cert_no or f"QR{psn_no}", "ipt_otp_no": f"OP-{psn_no}", "atddr_no": "D01",
                     "dr_name": "王医生", "dept_code": "03", "dept_name": "内科", "caty": "A03"}}


def fee_line(sn: str, mdtrt_id: str, psn_no: str, batch: str, cnt: str, pric: str,
             amount: str | None = None) -> dict[str, Any]:
    from decimal import ROUND_HALF_UP, Decimal
    total = amount or str((Decimal(cnt) * Decimal(pric)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": batch,
            "med_list_codg": f"X{sn}", "medins_list_codg": "", "det_item_fee_sumamt": total, "cnt": cnt,
            "pric": pric, "fee_ocur_time": "2026-11-25 10:05:00"}


def settle_input(psn_no: str, amount: str, mdtrt_id: str | None = None, batch: str | None = None,
                 cert_no: str | None = None) -> dict[str, Any]:
    data = {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert_no or f"QR{psn_no}", "med_type": "11",
            "medfee_sumamt": amount, "psn_setlway": "01", "acct_used_flag": "1", "insutype": ""}
    if mdtrt_id is not None:
        data["mdtrt_id"] = mdtrt_id
    if batch is not None:
        data["chrg_bchno"] = batch
    return {"data": data}
