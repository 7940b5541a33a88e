"""Wire models of the member-app channel's answers, exactly as ``switch/core/member_app.py`` builds them.

Like ``switch/wire/outputs.py`` (the transaction table names them), they only describe: the
AsyncAPI document and the reference are generated from them, and a test holds every recorded app
answer to exactly one of them. docs/protocol.md's Clarifications say what each field means.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from switch.wire.inputs import Insutype, Relation, Status
from switch.wire.outputs_base import Amount, Timestamp
from switch.wire.outputs_base import Out as _Out

__all__ = [
    "AppBinding",
    "BindOutput",
    "BindPendingOutput",
    "BindingsHolder",
    "BindingsNone",
    "BindingsRelative",
    "DeclineOutput",
    "FellowRelative",
    "HeldRelative",
    "Invitation",
    "InvitationSent",
    "Member",
    "OwnBinding",
    "PremiumOutput",
    "Record",
    "RecordsOutput",
    "SetCapOutput",
    "UnbindOutput",
]


class AppBinding(_Out):
    """One binding as the member app sees it."""

    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    cap: Amount | None
    used: Amount


class BindOutput(AppBinding):
    """app.bind: the binding now; ``created`` is false when the caller already held it (only ``rltn`` changed)."""

    created: bool


class BindPendingOutput(_Out):
    """app.bind where the holder's policy asks for consent: an invitation, not yet a binding."""

    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    pending: Literal[True]
    requested_at: Timestamp


class DeclineOutput(_Out):
    """app.decline: the invitation the relative refused."""

    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    declined: Literal[True]


class UnbindOutput(AppBinding):
    """app.unbind: the binding that was removed, and how many of the relative's windows closed with it."""

    windows_closed: int


class SetCapOutput(AppBinding):
    """app.set_cap: the binding with its new cap."""

    remaining: Amount | None


class Member(_Out):
    """A person in the family view."""

    psn_no: str
    psn_name: str
    insutype: Insutype
    insuplc_admdvs: str
    status: Status


class HeldRelative(Member):
    """A relative as their holder sees them: with cap and usage."""

    rltn: Relation
    cap: Amount | None
    used: Amount


class FellowRelative(Member):
    """Another relative of the caller's holder: who and how related, not their spending."""

    rltn: Relation


class OwnBinding(_Out):
    """The caller's own binding, seen by the relative."""

    psn_no: str
    rltn: Relation
    cap: Amount | None
    used: Amount


class Invitation(_Out):
    """A binding invitation waiting for the caller's consent (app.accept / app.decline)."""

    holder_psn_no: str
    holder_name: str
    rltn: Relation
    requested_at: Timestamp


class InvitationSent(_Out):
    """A binding invitation the caller sent, still waiting for the relative's consent."""

    relative_psn_no: str
    rltn: Relation
    requested_at: Timestamp


class BindingsHolder(_Out):
    """app.bindings from a holder: themselves and each relative with cap and usage."""

    role: Literal["holder"]
    read_only: Literal[False]
    holder: Member
    relatives: list[HeldRelative]
    invitations: list[Invitation]
    invitations_sent: list[InvitationSent]


class BindingsRelative(_Out):
    """app.bindings from a relative: who bound them, their own binding, the other relatives; read-only."""

    role: Literal["relative"]
    read_only: Literal[True]
    holder: Member
    self: OwnBinding
    relatives: list[FellowRelative]
    invitations: list[Invitation]
    invitations_sent: list[InvitationSent]


class BindingsNone(_Out):
    """app.bindings from someone who holds no one and is bound to no one."""

    role: Literal["none"]
    read_only: Literal[False]
    holder: None
    relatives: list[HeldRelative] = Field(max_length=0, description="always empty")
    invitations: list[Invitation]
    invitations_sent: list[InvitationSent]


class Record(_Out):
    """One row of pooled spending from the caller's account."""

    rec_id: int
    setl_id: str
    psn_no: str
    amount: Amount = Field(description="pooled from the caller's account; a cancel or reversal is a negative row")
    time: Timestamp
    fixmedins_code: str


class RecordsOutput(_Out):
    """app.records: one page, newest first."""

    records: list[Record]
    next_before: int | None


class PremiumOutput(_Out):
    """app.pay_premium: what was paid, and the holder's balance after."""

    holder_psn_no: str
    relative_psn_no: str
    year: int
    amount: Amount
    balc: Amount
