"""The switch's state as plain data, the effects that change it, and the events it announces.

Strategy: every change to the state is an ``Effect``. The core decides and returns effects; the
same effects are applied to the in-memory ``State`` (here, by ``apply``) and written to the store
in one transaction, so memory and disk cannot disagree about what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from switch.core.books import Book, RecordBook, SettlementBook, SignInBook, VisitBook
from switch.core.clinic import PutBatch, PutSignIn, PutVisit, apply_clinic
from switch.core.codes import Code
from switch.core.policy import Policy, PolicyBook

__all__ = ["EXTERNAL_ACCOUNTS", "Binding", "CloseWindow", "Decision", "DeleteBinding", "DeleteInvite", "Effect",
           "Event", "Invite", "Move", "OpenWindow", "Original", "Person", "PutBinding", "PutInvite", "PutPerson",
           "PutPolicy", "PutPremium", "PutRecord", "PutSettlement", "PutTombstone", "Record", "Reset", "Settlement",
           "State", "UndoSettlement", "UseCap", "Window", "apply", "iso", "refuse"]

# Money enters and leaves the personal accounts through these; with them the ledger is
# double-entry: every Move debits one account and credits another by the same fen.
EXTERNAL_ACCOUNTS = ("@load", "@credit", "@paid", "@premium")


_last_iso: tuple[datetime | None, str] = (None, "")


def iso(at: datetime) -> str:
    """The wire's timestamps: ISO 8601 with milliseconds and the offset (+08:00)."""
    # One request formats its moment several times (setl_time, events, respond_time): keep the last.
    global _last_iso
    last, text = _last_iso
    if at is not last:
        text = at.isoformat(timespec="milliseconds")
        _last_iso = (at, text)
    return text


@dataclass(slots=True)
class Person:
    psn_no: str
    psn_name: str
    insutype: str  # "310" employee (has a personal account) / "390" resident (has none)
    admdvs: str  # insured region, 6 digits
    status: str  # "active" / "suspended"
    certs: dict[str, str] = field(default_factory=dict)
    balc: int = 0  # fen; changed only by Move
    gend: str | None = None  # "1" / "2" when loaded; else read from the ID number when asked
    brdy: str | None = None  # yyyy-MM-dd when loaded


@dataclass(slots=True)
class Binding:
    holder: str  # 户主/共济人: whose account pays
    relative: str  # 近亲属: who may spend from it
    rltn: str
    cap: int | None = None  # cumulative fen the relative may spend; None = no cap
    used: int = 0
    created_at: datetime | None = None
    # Which binding this is, for the life of the database: unbinding and binding again makes a new
    # one, and a refund gives cap back only to the binding its settlement spent under.
    bid: int = 0


@dataclass(slots=True)
class Invite:
    """A binding asked for by ``holder`` and waiting for ``relative``'s consent (policy ``binding_consent``).

    It pools nothing and blocks no one: only ``app.accept`` turns it into a Binding.
    """

    holder: str
    relative: str
    rltn: str
    at: datetime


@dataclass(slots=True)
class Window:
    """The retry window of the decline-and-swipe-again flow: open on [opened_at, expires_at)."""

    psn_no: str
    fixmedins_code: str
    holder: str
    opened_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Original:
    """What the switch answered to the message a reversal names."""

    infno: str
    code: str
    setl_id: str | None


@dataclass(slots=True)
class Settlement:
    setl_id: str
    infno: str
    terminal_id: str
    msgid: str
    fixmedins_code: str
    psn_no: str
    psn_name: str
    insutype: str
    setl_time: datetime
    medfee: int
    fund: int
    acct: int
    mulaid: int
    cash: int
    balc: int  # the patient's own balance right after
    holder: str | None
    status: str = "settled"  # settled / cancelled / reversed
    med_type: str | None = None  # as settled (None: a settlement from before these were kept)
    mdtrt_cert_type: str | None = None
    binding_id: int | None = None  # the Binding.bid that acct_mulaid_pay was spent under
    mdtrt_id: str | None = None  # the registered visit (2201) it settled; None: derived from setl_id


@dataclass(slots=True)
class Record:
    """One row of a holder's pooled-spending list (明细): a payment, or a refund as a negative."""

    rec_id: int
    holder: str
    setl_id: str
    psn_no: str
    amount: int
    at: datetime
    fixmedins_code: str


# --- effects ---------------------------------------------------------------------------------
# Effects, events and decisions are values: nothing changes one once it is made. They are not
# frozen dataclasses only because a frozen dataclass costs four times as much to construct
# (object.__setattr__ per field) and every settlement makes half a dozen. unsafe_hash gives them
# the hash a frozen dataclass would have, by value: an effect of scalars (Move, CloseWindow...)
# hashes; one carrying a dict or a mutable record (an Event's data, a Decision's output, PutPerson)
# raises TypeError when hashed, as a frozen one would. Nothing in the switch hashes them.


@dataclass(slots=True, unsafe_hash=True)
class PutPerson:
    person: Person


@dataclass(slots=True, unsafe_hash=True)
class Move:
    """``fen`` from account ``debit`` to account ``credit`` (a psn_no or an ``@`` external)."""

    debit: str
    credit: str
    fen: int
    kind: str
    ref: str
    at: datetime


@dataclass(slots=True, unsafe_hash=True)
class PutBinding:
    binding: Binding


@dataclass(slots=True, unsafe_hash=True)
class DeleteBinding:
    holder: str
    relative: str


@dataclass(slots=True, unsafe_hash=True)
class PutInvite:
    invite: Invite


@dataclass(slots=True, unsafe_hash=True)
class DeleteInvite:
    relative: str
    holder: str


@dataclass(slots=True, unsafe_hash=True)
class UseCap:
    """Cap usage of binding ``bid`` changes by ``delta``; a binding since replaced is left alone."""

    relative: str
    holder: str
    delta: int
    bid: int = 0


@dataclass(slots=True, unsafe_hash=True)
class OpenWindow:
    window: Window


@dataclass(slots=True, unsafe_hash=True)
class CloseWindow:
    psn_no: str
    fixmedins_code: str


@dataclass(slots=True, unsafe_hash=True)
class PutSettlement:
    settlement: Settlement


@dataclass(slots=True, unsafe_hash=True)
class UndoSettlement:
    setl_id: str
    status: str  # cancelled / reversed


@dataclass(slots=True, unsafe_hash=True)
class PutRecord:
    record: Record


@dataclass(slots=True, unsafe_hash=True)
class PutTombstone:
    """A reversal that arrived before its original: the original will be answered REVERSED."""

    terminal_id: str
    omsgid: str
    oinfno: str


@dataclass(slots=True, unsafe_hash=True)
class PutPremium:
    relative: str
    year: int
    holder: str
    amount: int
    at: datetime


@dataclass(slots=True, unsafe_hash=True)
class PutPolicy:
    policy: Policy


@dataclass(slots=True, unsafe_hash=True)
class Reset:
    pass


Effect = (
    PutPerson
    | Move
    | PutBinding
    | DeleteBinding
    | UseCap
    | OpenWindow
    | CloseWindow
    | PutSettlement
    | UndoSettlement
    | PutRecord
    | PutTombstone
    | PutPremium
    | PutPolicy
    | PutInvite
    | DeleteInvite
    | Reset
    | PutVisit
    | PutBatch
    | PutSignIn
)


@dataclass(slots=True, unsafe_hash=True)
class Event:
    type: str
    at: datetime
    data: dict[str, Any]


@dataclass(slots=True, unsafe_hash=True)
class Decision:
    """What the core decided: the answer, the effects to commit, the events to announce."""

    code: Code
    output: dict[str, Any] | None = None
    err_msg: str | None = None
    effects: tuple[Effect, ...] = ()
    events: tuple[Event, ...] = ()
    setl_id: str | None = None


def refuse(code: Code, err_msg: str, output: dict[str, Any] | None = None) -> Decision:
    """A refusal: the code and message to answer with (and its ``errors``, if any); nothing changes."""
    return Decision(code=code, output=output, err_msg=err_msg)


# --- the state -------------------------------------------------------------------------------


@dataclass
class State:
    policies: PolicyBook
    people: dict[str, Person] = field(default_factory=dict)
    cert_owner: dict[tuple[str, str], str] = field(default_factory=dict)
    binding_of: dict[str, Binding] = field(default_factory=dict)  # relative -> binding
    relatives_of: dict[str, dict[str, Binding]] = field(default_factory=dict)  # holder -> relative -> b
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    # Every settlement, by setl_id and by (terminal, msgid): the latter outlives the idempotency record
    # of its answer. The newest in memory, the rest on disk once the store gives the book an archive.
    settlements: SettlementBook = field(default_factory=SettlementBook)
    records: RecordBook = field(default_factory=RecordBook)  # holder -> pooled-spending rows, oldest first
    tombstones: dict[tuple[str, str], str] = field(default_factory=dict)  # (terminal, omsgid) -> oinfno
    premiums: dict[tuple[str, int], int] = field(default_factory=dict)  # (relative, year) -> fen
    invites: dict[tuple[str, str], Invite] = field(default_factory=dict)  # (relative, holder) -> invite
    externals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EXTERNAL_ACCOUNTS, 0))
    # The visits 2201 registered, by mdtrt_id, each with its charge batches (2204); and the tills' sign-ins by
    # sign_no. Books too: the newest in memory, the rest on disk once the store gives them an archive.
    visits: VisitBook = field(default_factory=VisitBook)
    sign_ins: SignInBook = field(default_factory=SignInBook)
    next_setl: int = 1
    next_record: int = 1
    next_binding: int = 1  # the next Binding.bid; never reused, so an old refund cannot reach a new binding
    next_visit: int = 1
    next_sign: int = 1
    base_policies: tuple[Policy, ...] = ()

    def policy_for(self, person: Person) -> Policy:
        return self.policies.for_region(person.admdvs)

    def books(self) -> tuple[Book, ...]:
        """The books whose rows leave memory once durable: the service tells each what a commit made durable."""
        return self.settlements, self.records, self.visits, self.sign_ins


def _move(state: State, account: str, fen: int) -> None:
    if account.startswith("@"):
        state.externals[account] += fen
    else:
        state.people[account].balc += fen


def apply(state: State, effect: Effect) -> None:
    """Apply one effect to the in-memory state (the store applies the same effect to disk)."""
    match effect:
        # Most frequent first: a settlement is a Move, a PutSettlement and often a window change.
        case Move(debit=debit, credit=credit, fen=fen):
            _move(state, debit, -fen)
            _move(state, credit, fen)
        case PutSettlement(settlement=settlement):
            state.settlements.put(settlement)
            state.next_setl = max(state.next_setl, int(settlement.setl_id[4:]) + 1)
        case CloseWindow(psn_no=psn_no, fixmedins_code=code):
            state.windows.pop((psn_no, code), None)
        case OpenWindow(window=window):
            state.windows[(window.psn_no, window.fixmedins_code)] = window
        case UseCap(relative=relative, holder=holder, delta=delta, bid=bid):
            binding = state.binding_of.get(relative)
            if binding is not None and binding.holder == holder and binding.bid == bid:
                binding.used = max(0, binding.used + delta)
        case PutRecord(record=record):
            state.records.append(record)
            state.next_record = max(state.next_record, record.rec_id + 1)
        case UndoSettlement(setl_id=setl_id, status=status):
            state.settlements.set_status(setl_id, status)
        case PutTombstone(terminal_id=terminal, omsgid=omsgid, oinfno=oinfno):
            state.tombstones[(terminal, omsgid)] = oinfno
        case PutPerson(person=person):
            old = state.people.get(person.psn_no)
            if old is not None:
                for key in old.certs.items():
                    state.cert_owner.pop(key, None)
                person.balc = old.balc
            state.people[person.psn_no] = person
            for key in person.certs.items():
                state.cert_owner[key] = person.psn_no
        case PutBinding(binding=binding):
            state.next_binding = max(state.next_binding, binding.bid + 1)
            state.binding_of[binding.relative] = binding
            state.relatives_of.setdefault(binding.holder, {})[binding.relative] = binding
        case DeleteBinding(holder=holder, relative=relative):
            state.binding_of.pop(relative, None)
            family = state.relatives_of.get(holder)
            if family is not None:
                family.pop(relative, None)
                if not family:
                    del state.relatives_of[holder]
        case PutPremium(relative=relative, year=year, amount=amount):
            state.premiums[(relative, year)] = amount
        case PutPolicy(policy=policy):
            state.policies.put(policy)
        case PutInvite(invite=invite):
            state.invites[(invite.relative, invite.holder)] = invite
        case DeleteInvite(relative=relative, holder=holder):
            state.invites.pop((relative, holder), None)
        case PutVisit() | PutBatch() | PutSignIn():
            apply_clinic(state, effect)
        case Reset():
            fresh = State(policies=PolicyBook(state.base_policies), base_policies=state.base_policies)
            # The books keep their archive and limit: the disk is emptied too.
            for book in (state.settlements, state.records, state.visits, state.sign_ins):
                book.clear()
            fresh.settlements, fresh.records = state.settlements, state.records
            fresh.visits, fresh.sign_ins = state.visits, state.sign_ins
            for name in State.__dataclass_fields__:
                setattr(state, name, getattr(fresh, name))
