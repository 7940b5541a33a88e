"""Every transaction the switch knows is one entry here: its input, outputs, decision, idempotency, summary.

Strategy: like a protocol's state table, the transactions are data. Dispatch and idempotency
(``switch/service/handling.py``) and the AsyncAPI document, the JSON Schemas and the reference
(``switch/kit/``) read this table and nothing else, so adding a transaction is one entry, its decide
function and its tests. A decide function takes the request's ``Context`` and its *own* validated
input model (``Transaction[M]`` ties the two together for the type checker). The pure core never
imports this table: what an entry means for the rules (pre-settlement, the default medical type)
is passed in from the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from switch.core import member_app, reconcile, signin, visiting
from switch.core import settlement as settle_core
from switch.core.codes import Code
from switch.core.model import Decision, State, refuse
from switch.service import operator
from switch.service.context import Context
from switch.wire import outputs as out
from switch.wire import outputs_app as app_out
from switch.wire import outputs_visit as visit_out
from switch.wire.inputs import (
    Accept,
    Bind,
    Cancel,
    Clock,
    Credit,
    Decline,
    Empty,
    Faults,
    Load,
    OutpatientSettle,
    PayPremium,
    PersonQuery,
    PharmacySettle,
    PolicyRequest,
    Records,
    Reverse,
    SetCap,
    SetStatus,
    StateQuery,
    Unbind,
)
from switch.wire.inputs_visit import (
    FeeUpload,
    FeeWithdraw,
    Reconcile,
    SignInRequest,
    SignOutRequest,
    VisitCancel,
    VisitInfo,
    VisitRegister,
)

__all__ = ["INPUT_MODELS", "OUTPUT_MODELS", "TABLE", "TRANSACTIONS", "Transaction", "output_model"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Transaction(Generic[M]):
    """One (channel, infno): what it takes, what it answers, how it decides, whether its answer is kept."""

    channel: str
    infno: str
    input: type[M]
    outputs: tuple[type[BaseModel], ...]  # success (and POOLING_AVAILABLE) outputs; refusals are common
    decide: Callable[[Context, M], Decision]
    summary: str  # one line: the AsyncAPI summary and the reference's heading
    # Recorded answers are replayed byte for byte to a repeated msgid; answers that depend on nothing
    # but the moment (reads of the whole state, the reset) are decided afresh each time.
    recorded: bool = True
    # Decided only once every earlier commit is durable, with the disk's findings (admin.audit).
    reads_disk: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.infno)


# --- the pos channel: the settlement core, told what each entry means -------------------------


def _settled_before(ctx: Context) -> Decision | None:
    """A settling msgid that already settled: its answer is past the idempotency retention (or it would have
    been replayed), but a msgid never pays twice."""
    setl_id = ctx.state.settlements.settled_id(ctx.sender, ctx.msgid)
    if setl_id is None:
        return None
    return refuse(Code.DUPLICATE_MSGID, f"msgid {ctx.msgid} already settled {setl_id}; its answer is not replayed "
                                        "here (past the idempotency retention, or given by the other door); "
                                        "nothing moved: use a new msgid")


def _pharmacy(*, pre: bool, med_type: str) -> Callable[[Context, PharmacySettle], Decision]:
    def decide(ctx: Context, cmd: PharmacySettle) -> Decision:
        return (None if pre else _settled_before(ctx)) or settle_core.settle(ctx.state, settle_core.SettleCommand(
            ctx.infno, ctx.sender, ctx.msgid, ctx.fixmedins_code, cmd.druginfo, pre, med_type), ctx.now)
    return decide


def _outpatient(*, pre: bool, med_type: str) -> Callable[[Context, OutpatientSettle], Decision]:
    def decide(ctx: Context, cmd: OutpatientSettle) -> Decision:
        return (None if pre else _settled_before(ctx)) or visiting.settle_visit(ctx.state, settle_core.SettleCommand(
            ctx.infno, ctx.sender, ctx.msgid, ctx.fixmedins_code, cmd.data, pre, med_type), ctx.now)
    return decide


def _at_institution(decide: Callable[[State, M, str, datetime], Decision]) -> Callable[[Context, M], Decision]:
    """A clinic decision that needs the institution and the moment."""
    def run(ctx: Context, cmd: M) -> Decision:
        return decide(ctx.state, cmd, ctx.fixmedins_code, ctx.now)
    return run


def _cancel_visit(ctx: Context, cmd: VisitCancel) -> Decision:
    return visiting.cancel_visit(ctx.state, cmd, ctx.fixmedins_code)


def _visit_info(ctx: Context, cmd: VisitInfo) -> Decision:
    return visiting.visit_info(ctx.state, cmd, ctx.fixmedins_code)


def _withdraw(ctx: Context, cmd: FeeWithdraw) -> Decision:
    return visiting.withdraw_fees(ctx.state, cmd, ctx.fixmedins_code)


def _reconcile(ctx: Context, cmd: Reconcile) -> Decision:
    return reconcile.reconcile(ctx.state, cmd, ctx.fixmedins_code)


def _signed_in(decide: Callable[[Context, M], Decision]) -> Callable[[Context, M], Decision]:
    """Under policy require_sign_in, a pos transaction needs a live sign_no of its institution first."""
    def run(ctx: Context, cmd: M) -> Decision:
        refused = signin.require_sign_in(ctx.state, ctx.infno, ctx.sign_no, ctx.fixmedins_code, ctx.now)
        return decide(ctx, cmd) if refused is None else refused
    return run


def _person_info(ctx: Context, cmd: PersonQuery) -> Decision:
    return settle_core.person_info(ctx.state, cmd, ctx.now)


def _cancel(ctx: Context, cmd: Cancel) -> Decision:
    return settle_core.cancel(ctx.state, cmd, ctx.infno, ctx.now, terminal_id=ctx.sender,
                              fixmedins_code=ctx.fixmedins_code)


def _reverse(ctx: Context, cmd: Reverse) -> Decision:
    original = ctx.replies.original(ctx.sender, cmd.omsgid)
    return settle_core.reverse(ctx.state, cmd, ctx.sender, original, ctx.now)


# --- the app channel: the member-app core, the caller being the topic's psn_no -----------------


def _member(decide: Callable[[State, str, M, datetime], Decision]) -> Callable[[Context, M], Decision]:
    def run(ctx: Context, cmd: M) -> Decision:
        return decide(ctx.state, ctx.sender, cmd, ctx.now)
    return run


# --- the table ---------------------------------------------------------------------------------

_SETTLING = (out.SettleOutput, out.PoolingAvailable)

_ENTRIES: tuple[Transaction[Any], ...] = (
    Transaction("pos", "1101", PersonQuery, (out.PersonInfo,), _person_info, "person info: read the card"),
    Transaction("pos", "2101", PharmacySettle, _SETTLING, _pharmacy(pre=True, med_type="41"),
                "pharmacy pre-settlement: what 2102 would do now, changing nothing"),
    Transaction("pos", "2102", PharmacySettle, _SETTLING, _pharmacy(pre=False, med_type="41"),
                "pharmacy settlement"),
    Transaction("pos", "2103", Cancel, (out.CancelOutput,), _cancel,
                "pharmacy settlement cancel: refund every source"),
    Transaction("pos", "2206", OutpatientSettle, _SETTLING, _outpatient(pre=True, med_type="11"),
                "outpatient pre-settlement: what 2207 would do now, changing nothing"),
    Transaction("pos", "2207", OutpatientSettle, _SETTLING, _outpatient(pre=False, med_type="11"),
                "outpatient settlement"),
    Transaction("pos", "2208", Cancel, (out.CancelOutput,), _cancel,
                "outpatient settlement cancel: refund every source"),
    Transaction("pos", "2601", Reverse, (out.ReverseOutput,), _reverse,
                "reversal: undo the sender's own earlier 2102/2207 named by omsgid"),
    Transaction("pos", "2201", VisitRegister, (visit_out.RegisterOutput,), _at_institution(visiting.register),
                "outpatient visit: register it (the certificate must be the patient's own)"),
    Transaction("pos", "2202", VisitCancel, (visit_out.VisitDone,), _cancel_visit,
                "outpatient visit cancel: only with nothing settled"),
    Transaction("pos", "2203", VisitInfo, (visit_out.VisitDone,), _visit_info,
                "outpatient visit details: medical type and diagnosis"),
    Transaction("pos", "2204", FeeUpload, (visit_out.FeeUploadOutput,), _at_institution(visiting.upload_fees),
                "outpatient fee upload: the lines of one charge batch (chrg_bchno) of a visit"),
    Transaction("pos", "2205", FeeWithdraw, (visit_out.VisitDone,), _withdraw,
                "outpatient fee withdrawal: an unsettled charge batch"),
    Transaction("pos", "9001", SignInRequest, (visit_out.SignInOutput,), _at_institution(signin.sign_in),
                "sign in a till: a new sign_no for the day"),
    Transaction("pos", "9002", SignOutRequest, (visit_out.SignOutOutput,), _at_institution(signin.sign_out),
                "sign out: end a sign_no"),
    Transaction("pos", "3201", Reconcile, (visit_out.ReconcileOutput,), _reconcile,
                "reconciliation: the institution's totals of a period against the switch's"),
    Transaction("app", "app.bind", Bind, (app_out.BindOutput, app_out.BindPendingOutput), _member(member_app.bind),
                "bind a relative to the caller (the holder)"),
    Transaction("app", "app.accept", Accept, (app_out.BindOutput,), _member(member_app.accept),
                "the relative consents to a holder's binding invitation (policy binding_consent)"),
    Transaction("app", "app.decline", Decline, (app_out.DeclineOutput,), _member(member_app.decline),
                "the relative refuses a holder's binding invitation"),
    Transaction("app", "app.unbind", Unbind, (app_out.UnbindOutput,), _member(member_app.unbind),
                "remove a relative's binding; closes the relative's windows"),
    Transaction("app", "app.set_cap", SetCap, (app_out.SetCapOutput,), _member(member_app.set_cap),
                "set or remove a relative's cumulative cap"),
    Transaction("app", "app.bindings", Empty,
                (app_out.BindingsHolder, app_out.BindingsRelative, app_out.BindingsNone),
                _member(member_app.bindings),
                "the caller's family: relatives with caps, or the holder and other relatives"),
    Transaction("app", "app.records", Records, (app_out.RecordsOutput,), _member(member_app.records),
                "the holder's pooled spending, newest first"),
    Transaction("app", "app.pay_premium", PayPremium, (app_out.PremiumOutput,), _member(member_app.pay_premium),
                "pay a bound relative's resident premium from the holder's account"),
    Transaction("admin", "admin.load", Load, (out.LoadOutput,), operator.load,
                "upsert people and bindings (all or nothing)"),
    Transaction("admin", "admin.reset", Empty, (out.ResetOutput,), operator.reset,
                "empty every table; policies and fault rules go back to those the switch started with",
                recorded=False),
    Transaction("admin", "admin.credit", Credit, (out.CreditOutput,), operator.credit,
                "add to a personal account (the monthly allocation)"),
    Transaction("admin", "admin.set_status", SetStatus, (out.SetStatusOutput,), operator.set_status,
                "suspend or reinstate a person's insurance"),
    Transaction("admin", "admin.clock", Clock, (out.ClockOutput,), operator.clock,
                "read, move, set or speed up the virtual clock"),
    Transaction("admin", "admin.state", StateQuery, (out.StateOutput,), operator.state,
                "people, bindings, open windows and counts", recorded=False),
    Transaction("admin", "admin.audit", Empty, (out.AuditOutput,), operator.audit,
                "check the ledger: balances, conservation, settlements", recorded=False, reads_disk=True),
    Transaction("admin", "admin.policy", PolicyRequest, (out.PolicyListOutput, out.PolicySetOutput),
                operator.policy, "list the policies, or add or replace one"),
    Transaction("admin", "admin.faults", Faults, (out.FaultsOutput,), operator.faults,
                "inject faults (drop, delay, duplicate, error) into matching requests, list or clear them"),
)

def _guarded(entry: Transaction[Any]) -> Transaction[Any]:
    if entry.channel != "pos":
        return entry
    return Transaction(entry.channel, entry.infno, entry.input, entry.outputs, _signed_in(entry.decide),
                       entry.summary, entry.recorded, entry.reads_disk)


TABLE: dict[tuple[str, str], Transaction[Any]] = {entry.key: _guarded(entry) for entry in _ENTRIES}
"""(channel, infno) -> its entry, in the order the documents list them."""

# Views of the table, for the generators and the tests that check them.
INPUT_MODELS: dict[tuple[str, str], type[BaseModel]] = {key: t.input for key, t in TABLE.items()}
OUTPUT_MODELS: dict[tuple[str, str], tuple[type[BaseModel], ...]] = {key: t.outputs for key, t in TABLE.items()}
TRANSACTIONS: dict[str, str] = {t.infno: t.summary for t in TABLE.values()}


def output_model(channel: str, infno: str, output: dict[str, Any]) -> type[BaseModel] | None:
    """Which of the (channel, infno) output models ``output`` is, or None (a refusal, or a drifted answer)."""
    entry = TABLE.get((channel, infno))
    for model in () if entry is None else entry.outputs:
        try:
            model.model_validate(output)
        except ValidationError:
            continue
        return model
    return None
