"""Wire models of the clinic's visit (2201-2205), the tills' sign-in (9001/9002) and reconciliation (3201).

The layouts are the national platform's (docs/national.md, "The outpatient visit, sign-in and
reconciliation"); like every POS input they ignore unknown fields and read ``""`` as absent.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema

from switch.wire.inputs import CertType, Fen
from switch.wire.lenient import DataWrapped, Lenient
from switch.wire.topics import ID_PATTERN

__all__ = ["FeeLine", "FeeUpload", "FeeWithdraw", "Reconcile", "SignInRequest",
           "SignOutRequest", "VisitCancel", "VisitInfo", "VisitRegister"]

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Insutype = Literal["310", "390"]
MAX_FEE_LINES = 500


class VisitRegister(DataWrapped):
    """2201: register an outpatient visit (门诊挂号)."""

    psn_no: Id
    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text
    ipt_otp_no: Text
    insutype: Insutype | None = None
    begntime: Text | None = None
    atddr_no: Text | None = None
    dr_name: Text | None = None
    dept_code: Text | None = None
    dept_name: Text | None = None
    caty: Text | None = None


class VisitCancel(DataWrapped):
    """2202: cancel a visit with nothing settled (门诊挂号撤销)."""

    psn_no: Id
    mdtrt_id: Text
    ipt_otp_no: Text | None = None


class MdtrtInfo(Lenient):
    mdtrt_id: Text
    psn_no: Id
    med_type: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] | None = None
    begntime: Text | None = None
    main_cond_dscr: Annotated[str, StringConstraints(max_length=500)] | None = None
    dise_codg: Text | None = None
    dise_name: Text | None = None


class VisitInfo(Lenient):
    """2203: the visit's details (就诊信息上传): its medical type and diagnoses."""

    mdtrtinfo: MdtrtInfo
    diseinfo: Annotated[list[dict[str, Any]], Field(max_length=50)] = Field(default_factory=list)


class FeeLine(Lenient):
    """One fee line of 2204 (费用明细)."""

    feedetl_sn: Text
    mdtrt_id: Text
    psn_no: Id
    chrg_bchno: Text
    med_list_codg: Text
    det_item_fee_sumamt: Fen
    cnt: Annotated[Decimal, Field(gt=0, le=1_000_000)]
    pric: Fen
    medins_list_codg: Text | None = None
    fee_ocur_time: Text | None = None


class FeeUpload(Lenient):
    """2204: upload one charge batch's fee lines (门诊费用明细上传)."""

    feedetail: Annotated[list[FeeLine], Field(min_length=1, max_length=MAX_FEE_LINES)]


class FeeWithdraw(DataWrapped):
    """2205: withdraw an unsettled charge batch (门诊费用明细撤销)."""

    mdtrt_id: Text
    chrg_bchno: Text
    psn_no: Id


class SignInBody(Lenient):
    opter_no: Text
    mac: Text | None = None
    ip: Text | None = None


class SignInRequest(Lenient):
    """9001: a till signs in (签到)."""

    signIn: SignInBody


class SignOutBody(Lenient):
    sign_no: Text
    opter_no: Text | None = None


class SignOutRequest(Lenient):
    """9002: a till signs out (签退)."""

    signOut: SignOutBody


def _total(value: object) -> int:
    """A period's total in fen: like any amount, but 0 is fine and a busy clinic's day may pass 1000000.00."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise ValueError("must be an amount such as \"1234.50\"")
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"must be an amount such as \"1234.50\", got {value!r}") from None
    if not amount.is_finite() or amount < 0 or amount > 10**10 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"must be an amount of at most two decimals between 0 and 10000000000, got {value!r}")
    return int(amount * 100)


TotalFen = Annotated[int, BeforeValidator(_total), WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"}, {"type": "number"}], "title": "Total"})]
Count = Annotated[int, Field(ge=0, le=10**9)]


def _platform_date(value: object) -> object:
    """A day as the platform writes it (yyyy-MM-dd), or compact (yyyyMMdd); anything else one clear message."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        form = {10: "%Y-%m-%d", 8: "%Y%m%d"}.get(len(text))
        if form is not None and text.isascii():
            try:
                return datetime.strptime(text, form).date()
            except ValueError:
                pass
    raise ValueError(f"must be a date as yyyy-MM-dd (or yyyyMMdd), got {value!r}")


PlatformDate = Annotated[date, BeforeValidator(_platform_date), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]{4}-?[0-9]{2}-?[0-9]{2}$", "title": "Date"})]


class Reconcile(DataWrapped):
    """3201: the institution's totals of a period, to compare with the switch's (对总账)."""

    clr_type: Literal["11", "41"]
    stmt_begndate: PlatformDate
    stmt_enddate: PlatformDate
    medfee_sumamt: TotalFen
    fund_pay_sumamt: TotalFen
    acct_pay: TotalFen
    fixmedins_setl_cnt: Count
    insutype: Insutype | None = None
    setl_optins: Text | None = None
    refd_setl_flag: Text | None = None
