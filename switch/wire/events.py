"""Wire models of the events on ``{root}/events``: what happened, for dashboards and tests; and who each concerns.

Like the answers' models (``switch/wire/outputs.py``) they describe and never build: the core makes
each event's ``data`` as a plain dict, and a test holds every recorded event to its model here.

Strategy: an event concerns the terminals and people its ``data`` names (``recipients``), so a
terminal or a member app can be sent its own events without being able to read anyone else's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from switch.core.codes import Code
from switch.wire.inputs import Relation
from switch.wire.outputs_base import Amount, Timestamp
from switch.wire.outputs_base import Out as _Out

__all__ = ["APP_FIELDS", "EVENT_MODELS", "POS_FIELDS", "Announced", "Event", "announced", "recipients"]


class WindowData(_Out):
    psn_no: str
    fixmedins_code: str
    holder_psn_no: str
    opened_at: Timestamp
    expires_at: Timestamp


class WindowClosedData(_Out):
    psn_no: str
    fixmedins_code: str
    holder_psn_no: str
    reason: str


class SettlementCommittedData(_Out):
    setl_id: str
    infno: str
    terminal_id: str
    msgid: str
    fixmedins_code: str
    psn_no: str
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    acct_pay: Amount
    acct_mulaid_pay: Amount
    psn_cash_pay: Amount
    mulaid_psn_no: str | None


class SettlementDeclinedData(_Out):
    terminal_id: str
    msgid: str
    infno: str
    fixmedins_code: str
    psn_no: str
    code: Code
    shortfall: Amount | None = Field(None, description="POOLING_AVAILABLE only")
    mulaid_psn_no: str | None = Field(None, description="POOLING_AVAILABLE only")


class SettlementCancelledData(_Out):
    setl_id: str
    psn_no: str
    infno: str
    terminal_id: str = Field(description="the terminal that settled")
    fixmedins_code: str = Field(description="the institution that settled, and cancelled")
    cancelled_by: str = Field(description="the terminal that cancelled (of the same institution)")
    mulaid_psn_no: str | None


class SettlementReversedData(_Out):
    setl_id: str
    psn_no: str
    omsgid: str
    terminal_id: str
    mulaid_psn_no: str | None


class BindingCreatedData(_Out):
    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    via: Literal["admin.load", "app.bind", "app.accept"]


class BindingAskedData(_Out):
    """binding.requested (policy binding_consent: the relative must accept)."""

    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation


class BindingDeclinedData(BindingAskedData):
    """binding.declined: the invitation is gone, with nothing bound to its holder."""

    reason: Literal["declined", "bound_elsewhere"] = Field(
        description="declined: the relative refused it (app.decline); bound_elsewhere: the relative was bound "
                    "to another holder (accepted another invitation, or was bound directly), which withdrew it")


class BindingRemovedData(_Out):
    """Sent by app.unbind, after the window.closed of each of the relative's open windows."""

    holder_psn_no: str
    relative_psn_no: str
    rltn: Relation
    via: Literal["app.unbind"]


class Event(_Out):
    """Every event on ``{root}/events``."""

    type: str
    at: Timestamp
    data: dict[str, Any]


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "settlement.committed": SettlementCommittedData,
    "settlement.declined": SettlementDeclinedData,
    "settlement.cancelled": SettlementCancelledData,
    "settlement.reversed": SettlementReversedData,
    "window.opened": WindowData,
    "window.used": WindowData,
    "window.expired": WindowData,
    "window.closed": WindowClosedData,
    "binding.created": BindingCreatedData,
    "binding.removed": BindingRemovedData,
    "binding.requested": BindingAskedData,
    "binding.declined": BindingDeclinedData,
}
"""The ``data`` of each event type."""


# The fields of an event's data that name a terminal, and those that name a person (a member app).
POS_FIELDS = ("terminal_id", "cancelled_by")
APP_FIELDS = ("psn_no", "mulaid_psn_no", "holder_psn_no", "relative_psn_no")


def recipients(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(terminals, people) an event with this ``data`` concerns, each once, in field order."""
    terminals = list(dict.fromkeys(v for f in POS_FIELDS if isinstance(v := data.get(f), str) and v))
    people = list(dict.fromkeys(v for f in APP_FIELDS if isinstance(v := data.get(f), str) and v))
    return terminals, people


class Announced(bytes):
    """An event's JSON, as every door sends it, with whom it concerns: read from its data when it was built,
    so the MQTT door does not parse each event it has just been given to find its topics."""

    terminals: list[str]
    people: list[str]


def announced(payload: bytes, data: dict[str, Any]) -> Announced:
    event = Announced(payload)
    event.terminals, event.people = recipients(data)
    return event
