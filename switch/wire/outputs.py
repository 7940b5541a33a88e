"""Wire models of what the switch answers: the response envelope, every output, and the codes.

The member-app channel's outputs are in ``switch/wire/outputs_app.py``, the events in
``switch/wire/events.py``; the transaction table (``switch/service/transactions.py``) names
each transaction's outputs.

The switch builds its answers as plain dicts in the core; these models are the contract those
dicts keep. They are never used to build answers (that would put pydantic on the hot path):
the AsyncAPI document and the reference are generated from them, and a test replays a scripted
day through the real core and validates every answer and event against them, so they cannot
drift from what is actually sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from switch.core.codes import Code
from switch.core.policy import Policy
from switch.wire.inputs import FaultAction, Insutype, Relation, Status
from switch.wire.outputs_base import Amount, Date, Timestamp
from switch.wire.outputs_base import Out as _Out
from switch.wire.outputs_visit import StateBatch, StateVisit

__all__ = [
    "CODE_WHEN",
    "CancelOutput",
    "ErrorsOutput",
    "NoOutput",
    "PoolingAvailable",
    "Response",
    "SetlInfo",
    "SettleOutput",
]


# --- the response envelope -------------------------------------------------------------------


class Response(_Out):
    """The answer to every request, on the sender's ``resp`` topic."""

    infno: str | None
    inf_refmsgid: str | None
    infcode: Literal[0, -1]
    code: Code
    err_msg: str
    respond_time: Timestamp
    output: dict[str, Any]


class ErrorItem(_Out):
    loc: list[str | int]
    msg: str
    code: Code | None = None


class ErrorsOutput(_Out):
    """INVALID_REQUEST (and a binding refused inside admin.load): every problem and where it is."""

    errors: list[ErrorItem]


class NoOutput(_Out):
    """Any other refusal: the ``code`` and ``err_msg`` say everything."""


# --- POS channel -----------------------------------------------------------------------------


class BaseInfo(_Out):
    psn_no: str
    psn_cert_type: Literal["01"] | None
    certno: str | None
    psn_name: str
    gend: Literal["1", "2"] | None
    naty: str
    brdy: Date | None
    age: int | None


class InsuInfo(_Out):
    balc: Amount | None = Field(None, description="personal account balance; absent for 390 (no account)")
    insutype: Insutype
    psn_type: str
    psn_insu_stas: Status
    psn_insu_date: Date | None
    paus_insu_date: Date | None
    cvlserv_flag: Literal["0", "1"]
    insuplc_admdvs: str
    emp_name: str | None


class MulaidInfo(_Out):
    holder_psn_no: str
    holder_name: str
    rltn: Relation


class PersonInfo(_Out):
    """1101 output."""

    baseinfo: BaseInfo
    insuinfo: list[InsuInfo]
    idetinfo: list[dict[str, Any]]
    mulaid: MulaidInfo | None


class SetlInfo(_Out):
    """The settlement result; negated amounts in cancel and reversal outputs."""

    setl_id: str | None = Field(None, description="absent in pre-settlement (2101/2206) outputs")
    psn_no: str
    psn_name: str
    insutype: Insutype
    setl_time: Timestamp
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    acct_pay: Amount
    acct_mulaid_pay: Amount
    psn_cash_pay: Amount
    balc: Amount
    mulaid_psn_no: str | None
    mdtrt_id: str | None = Field(None, description="absent in pre-settlement (2101/2206) outputs")
    psn_cert_type: Literal["01"] | None
    certno: str | None
    gend: Literal["1", "2"] | None
    brdy: Date | None
    age: int | None
    psn_type: str
    mdtrt_cert_type: str | None
    med_type: str
    hifp_pay: Amount
    psn_part_amt: Amount
    fulamt_ownpay_amt: Amount
    overlmt_selfpay: Amount
    preselfpay_amt: Amount
    inscp_scp_amt: Amount
    hosp_part_amt: Amount
    medins_setl_id: str
    clr_optins: str
    clr_way: str
    clr_type: Literal["11", "41"]


class SetlDetail(_Out):
    """One fund's part of a settlement (基金分项结算信息)."""

    fund_pay_type: str
    fund_pay_type_name: str
    fund_payamt: Amount
    inscp_scp_amt: Amount


class SettleOutput(_Out):
    """2101/2102/2206/2207 success; a cancel (2103/2208) adds ``undo_time`` (``CancelOutput``)."""

    setlinfo: SetlInfo
    setldetail: list[SetlDetail]
    warn_msg: str | None = Field(None, description="2206/2207 with a visit: a certificate that is not the "
                                 "visit patient's, noted and not refused (the HTTP door's warn_msg)")


class CancelOutput(SettleOutput):
    """2103/2208: the settlement undone, amounts negated; ``setlinfo.setl_time`` stays the settlement's."""

    undo_time: Timestamp = Field(description="when this cancel was decided, the switch's clock")


class PoolingAvailable(_Out):
    """The retry-window decline: nothing moved; pay again before ``window_expires_at`` to pool."""

    psn_no: str
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    self_pay: Amount
    acct_balc: Amount
    shortfall: Amount
    mulaid_psn_no: str
    window_expires_at: Timestamp
    window_seconds: float


class ReverseOutput(_Out):
    """2601: ``reversed`` says whether anything was undone."""

    psn_no: str
    omsgid: str
    oinfno: str
    reversed: bool
    setl_id: str | None = Field(None, description="the original settlement when it was already cancelled")
    setlinfo: SetlInfo | None = Field(None, description="the undone settlement, amounts negated")
    setldetail: list[SetlDetail] | None = Field(None, description="with setlinfo: its fund parts, negated")
    undo_time: Timestamp | None = Field(None, description="with setlinfo: when the reversal undid it, the "
                                                          "switch's clock (setlinfo.setl_time stays the settlement's)")


# --- admin channel ---------------------------------------------------------------------------


class LoadOutput(_Out):
    people: int
    bindings: int


class ResetOutput(_Out):
    reset: Literal[True]


class CreditOutput(_Out):
    psn_no: str
    balc: Amount


class SetStatusOutput(_Out):
    psn_no: str
    status: Status


class ClockOutput(_Out):
    now: Timestamp
    virtual: bool
    speed: float | None = Field(None, description="virtual clocks only: 0 frozen, 1 real time")


class StatePerson(_Out):
    psn_no: str
    psn_name: str
    insutype: Insutype
    insuplc_admdvs: str
    status: Status
    balc: Amount


class StateBinding(_Out):
    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    cap: Amount | None
    used: Amount


class StateWindow(_Out):
    psn_no: str
    fixmedins_code: str
    holder_psn_no: str
    opened_at: Timestamp
    expires_at: Timestamp


class StateInvitation(_Out):
    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    requested_at: Timestamp


class StateCounts(_Out):
    people: int
    bindings: int
    windows: int
    settlements: int
    undone: int


class StateOutput(_Out):
    now: Timestamp
    people: list[StatePerson]
    bindings: list[StateBinding]
    windows: list[StateWindow]
    invitations: list[StateInvitation]
    visits: list[StateVisit]
    batches: list[StateBatch]
    counts: StateCounts


class AuditChecked(_Out):
    people: int
    settlements: int = Field(description="settlements in the ledger, cancelled and reversed ones included")


class AuditOutput(_Out):
    ok: bool
    violations: list[str]
    checked: AuditChecked


class PolicyListOutput(_Out):
    policies: list[Policy]


class PolicySetOutput(_Out):
    policy: Policy


class FaultMatchOut(_Out):
    terminal_id: str | None = None
    infno: str | None = None


class FaultRuleOut(_Out):
    """A rule of admin.faults as the switch shows it: the rule, and ``left``, the hits remaining."""

    match: FaultMatchOut
    action: FaultAction
    times: int | None = None
    delay_ms: int | list[int] | None = None
    left: int | None


class FaultsOutput(_Out):
    rules: list[FaultRuleOut]


# --- codes -----------------------------------------------------------------------------------

CODE_WHEN: dict[Code, str] = {
    Code.OK: "success",
    Code.POOLING_AVAILABLE: "retry-window decline: nothing moved, a window opened; pay inside it to pool",
    Code.INVALID_REQUEST: "not JSON, no usable msgid, schema errors, bad amounts, drugdetail sum mismatch",
    Code.UNKNOWN_INFNO: "unknown transaction code on that channel",
    Code.PERSON_NOT_FOUND: ("unknown psn_no, or (1101) unknown certificate; a settlement naming a known "
                            "psn_no with a certificate not theirs is CERT_MISMATCH"),
    Code.CERT_MISMATCH: "the certificate is not the patient's own",
    Code.INSURANCE_SUSPENDED: "the patient's insurance is suspended",
    Code.DUPLICATE_MSGID: "msgid reused by the same sender with other content",
    Code.REVERSED: "the original settlement arrived after its reversal (2601); nothing moved",
    Code.SETTLEMENT_NOT_FOUND: "cancel/reversal: unknown setl_id, another person's, or (cancel) another "
                               "institution's",
    Code.ALREADY_CANCELLED: "cancel of a settlement already cancelled or reversed",
    Code.NOT_REVERSIBLE: "2601 with an oinfno other than 2102/2207",
    Code.FACE_VERIFICATION_REQUIRED: "bind/unbind without face_verified: true",
    Code.RELATIVE_ALREADY_BOUND: "the relative is already bound to a holder",
    Code.RELATIVE_IS_HOLDER: "the relative is a holder of others",
    Code.HOLDER_IS_RELATIVE: "the holder is someone's relative",
    Code.MAX_RELATIVES: "the holder has the policy's maximum number of relatives",
    Code.RELATION_NOT_ALLOWED: "the relation is not allowed by the holder's policy",
    Code.SELF_BINDING: "holder and relative are the same person",
    Code.HOLDER_NOT_EMPLOYEE: "the holder has no personal account (not 310)",
    Code.HOLDER_SUSPENDED: "the holder's insurance is suspended",
    Code.REGION_NOT_ALLOWED: "the policy's no_pool_to refuses this relative's region",
    Code.BINDING_NOT_FOUND: "unbind, set_cap or premium for a relative not bound to the caller",
    Code.NOT_HOLDER: "a relative tried a holder-only action",
    Code.INSUFFICIENT_BALANCE: "premium larger than the holder's balance",
    Code.PREMIUM_ALREADY_PAID: "second premium for the same relative and year",
    Code.CLOCK_NOT_VIRTUAL: "admin.clock change on a switch running the system clock",
    Code.UNAUTHORIZED: "admin request without the switch's admin token, or with another (err_msg says which); "
                       "a pos request whose fixmedins_code is not the institution its terminal's account is "
                       "registered for (over MQTT, or the HTTP door with --access)",
    Code.SIGN_IN_REQUIRED: "policy require_sign_in: no live sign_no of the institution (9001) in the envelope",
    Code.VISIT_NOT_FOUND: "no open visit (2201) with that mdtrt_id of that person at that institution",
    Code.FEES_NOT_FOUND: "no uploaded (2204), unwithdrawn charge batch with that chrg_bchno in the visit",
    Code.FEE_MISMATCH: "2206/2207 medfee_sumamt is not the batch's total; both amounts named",
    Code.VISIT_SETTLED: "the batch or visit is paid by a settlement in force (cancel it with 2208 first)",
    Code.INTERNAL_ERROR: "the switch failed on this request (or a fault rule said so); nothing was committed",
}
"""When each code is sent, in English: the stable gloss of every ``err_msg`` (which is Chinese where the
platform's is); the reference's code table is generated from this."""
