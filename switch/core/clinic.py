"""A clinic's visits, charge batches and tills' sign-ins as plain data, with the effects that change them.

Strategy: like the rest of the state (``switch/core/model.py``), each of these changes only by an
effect, applied to memory by ``apply`` and written to the ledger by the store in the same commit.
The effects are upserts of whole records: a visit, a batch or a sign-in is small, and writing it
whole keeps memory and disk from disagreeing about any one of its fields. The state keeps them in
books (``switch/core/books.py``): the newest ``--keep`` visits, each with its batches, and sign-ins
in memory, older ones read back from the ledger file when a request names one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from switch.core.money import format_fen

if TYPE_CHECKING:
    from switch.core.model import State

__all__ = ["Batch", "FeeItem", "PutBatch", "PutSignIn", "PutVisit", "SignIn", "Visit", "apply_clinic",
           "batch_in_force", "batches_of", "clinic_view", "sign_no", "visit_id"]


def visit_id(number: int) -> str:
    """A registered visit's ``mdtrt_id``: never one of the ids derived from a setl_id (``MDTRT`` + digits)."""
    return f"MDTRTV{number:09d}"


def sign_no(number: int) -> str:
    """A sign-in's ``sign_no`` (签到编号)."""
    return f"SN{number:010d}"


@dataclass(slots=True)
class Visit:
    """An outpatient visit registered by 2201 (就诊), its details from 2203; cancelled by 2202."""

    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    insutype: str
    mdtrt_cert_type: str
    ipt_otp_no: str
    opened_at: datetime
    status: str = "open"  # open / cancelled
    med_type: str | None = None  # from 2203
    dise_codg: str | None = None
    dise_name: str | None = None


@dataclass(frozen=True, slots=True)
class FeeItem:
    """One uploaded fee line (费用明细) of a batch."""

    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    pric: int
    amount: int  # det_item_fee_sumamt, fen


@dataclass(slots=True)
class Batch:
    """A charge batch (收费批次, ``chrg_bchno``) of one visit: fee lines uploaded by 2204.

    ``setl_id`` is the settlement that paid for it; the batch is settled while that settlement is in
    force, so cancelling or reversing the settlement frees the batch without touching it.
    """

    mdtrt_id: str
    chrg_bchno: str
    psn_no: str
    items: tuple[FeeItem, ...]
    uploaded_at: datetime
    status: str = "uploaded"  # uploaded / withdrawn (2205)
    setl_id: str | None = None

    @property
    def total(self) -> int:
        return sum(item.amount for item in self.items)


@dataclass(slots=True)
class SignIn:
    """A till's sign-in (9001): live from ``at`` to its sign-out (9002) or the end of its day in China."""

    sign_no: str
    fixmedins_code: str
    opter_no: str
    at: datetime
    signed_out_at: datetime | None = None


@dataclass(slots=True, unsafe_hash=True)
class PutVisit:
    visit: Visit


@dataclass(slots=True, unsafe_hash=True)
class PutBatch:
    batch: Batch


@dataclass(slots=True, unsafe_hash=True)
class PutSignIn:
    sign_in: SignIn


def batches_of(state: State, mdtrt_id: str) -> Iterable[Batch]:
    """The batches of one visit, in the order they were first uploaded."""
    return state.visits.batches_of(mdtrt_id)


def batch_in_force(state: State, batch: Batch) -> bool:
    """Whether ``batch`` is paid by a settlement still in force (then it cannot be settled or withdrawn)."""
    if batch.setl_id is None:
        return False
    settlement = state.settlements.get(batch.setl_id)
    return settlement is not None and settlement.status == "settled"


def clinic_view(state: State, members: set[str] | None) -> dict[str, Any]:
    """admin.state's visits and batches (of ``members`` only, when given), oldest visit first, each visit's
    batches in the order first uploaded: every one, also those only the ledger file holds (read, left there)."""
    visits, batches = [], []
    for v, its in state.visits.chains(members):
        visits.append({"mdtrt_id": v.mdtrt_id, "psn_no": v.psn_no, "fixmedins_code": v.fixmedins_code,
                       "ipt_otp_no": v.ipt_otp_no, "status": v.status, "med_type": v.med_type,
                       "opened_at": v.opened_at.isoformat(timespec="milliseconds")})
        for b in its:
            paying = None if b.setl_id is None else state.settlements.peek(b.setl_id)
            paid = paying is not None and paying.status == "settled"
            batches.append({"mdtrt_id": b.mdtrt_id, "chrg_bchno": b.chrg_bchno, "psn_no": b.psn_no,
                            "lines": len(b.items), "total": format_fen(b.total),
                            "status": "settled" if paid else b.status, "setl_id": b.setl_id if paid else None})
    return {"visits": visits, "batches": batches}


def apply_clinic(state: State, effect: PutVisit | PutBatch | PutSignIn) -> None:
    """Apply one of this module's effects to the in-memory state."""
    match effect:
        case PutVisit(visit=visit):
            state.visits.put(visit)
            state.next_visit = max(state.next_visit, int(visit.mdtrt_id[6:]) + 1)
        case PutBatch(batch=batch):
            state.visits.put_batch(batch)
        case PutSignIn(sign_in=sign_in):
            state.sign_ins.put(sign_in)
            state.next_sign = max(state.next_sign, int(sign_in.sign_no[2:]) + 1)
