"""Wire models of the clinic's visit, the tills' sign-in and reconciliation answers, and their admin.state view."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from switch.wire.outputs_base import Amount, Timestamp
from switch.wire.outputs_base import Out as _Out

__all__ = ["FeeResult", "FeeUploadOutput", "ReconcileOutput", "RegisterOutput", "SignInOutput", "SignOutOutput",
           "StateBatch", "StateVisit", "VisitDone"]


class RegisterData(_Out):
    mdtrt_id: str
    psn_no: str
    ipt_otp_no: str


class RegisterOutput(_Out):
    """2201: the registered visit."""

    data: RegisterData


class VisitDone(_Out):
    """2202/2203/2205: nothing to say beyond the code."""


class FeeResult(_Out):
    """One uploaded fee line as the switch priced it: no catalogue, so all of it is in scope."""

    feedetl_sn: str
    det_item_fee_sumamt: Amount
    cnt: float
    pric: Amount
    pric_uplmt_amt: Amount
    selfpay_prop: str
    fulamt_ownpay_amt: Amount
    overlmt_amt: Amount
    preselfpay_amt: Amount
    inscp_scp_amt: Amount
    chrgitm_lv: str
    med_chrgitm_type: str | None


class FeeUploadOutput(_Out):
    """2204: each line uploaded."""

    result: list[FeeResult]


class SignInInfo(_Out):
    sign_time: Timestamp
    sign_no: str


class SignInOutput(_Out):
    """9001: the new sign-in."""

    signinoutb: SignInInfo


class SignOutInfo(_Out):
    sign_time: Timestamp


class SignOutOutput(_Out):
    """9002: the sign-in ended."""

    signoutoutb: SignOutInfo


class StmtInfo(_Out):
    setl_optins: str | None
    stmt_rslt: Literal["0", "1"]
    stmt_rslt_dscr: str


class ReconcileOutput(_Out):
    """3201: balanced ("0") or not ("1"), naming each figure that differs with both values."""

    stmtinfo: StmtInfo


class StateVisit(_Out):
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    ipt_otp_no: str
    status: Literal["open", "cancelled"]
    med_type: str | None
    opened_at: Timestamp


class StateBatch(_Out):
    mdtrt_id: str
    chrg_bchno: str
    psn_no: str
    lines: int
    total: Amount
    status: Literal["uploaded", "withdrawn", "settled"]
    setl_id: str | None = Field(description="the settlement in force that paid it, else null")
