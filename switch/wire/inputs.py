"""Wire models of protocol v1: envelopes and every transaction's input, validated with pydantic.

The core only ever sees these validated models; amounts are already integer fen here.
``terminal/`` imports this module too, so a client and the switch cannot disagree on a field.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from switch.core.money import parse_amount
from switch.errors import json_kind
from switch.wire.lenient import DataWrapped, Lenient, NationalText, decode_input
from switch.wire.topics import ID_PATTERN

__all__ = [
    "CHANNELS",
    "MAX_PAYLOAD_BYTES",
    "Accept",
    "Bind",
    "Cancel",
    "CertType",
    "Clock",
    "Credit",
    "Decline",
    "Empty",
    "Envelope",
    "FaultMatch",
    "FaultRule",
    "Faults",
    "Fen",
    "Load",
    "LoadBinding",
    "LoadPerson",
    "OutpatientData",
    "OutpatientSettle",
    "PayPremium",
    "PersonQuery",
    "PharmacySettle",
    "PolicyRequest",
    "Records",
    "Relation",
    "Reverse",
    "SetCap",
    "SetStatus",
    "SettleData",
    "StateQuery",
    "Unbind",
    "parse_duration",
]

MAX_PAYLOAD_BYTES = 65_536
CHANNELS = ("pos", "app", "admin")

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Msgid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Admdvs = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
CertType = Literal["01", "02", "03"]
Insutype = Literal["310", "390"]
Status = Literal["active", "suspended"]
Relation = Literal["spouse", "parent", "child", "spouse_parent", "sibling", "grandparent", "grandchild"]

# An amount in fen: the wire gives "80.00" or 80 or 80.5; inside it is 8000 / 8050.
# The JSON Schema describes the wire form, not the integer inside (the AsyncAPI document uses it).
_AMOUNT_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"}, {"type": "number"}]}
Fen = Annotated[int, BeforeValidator(parse_amount), WithJsonSchema({**_AMOUNT_SCHEMA, "title": "Amount"})]
FenOrZero = Annotated[int, BeforeValidator(lambda v: parse_amount(v, allow_zero=True)),
                      WithJsonSchema({**_AMOUNT_SCHEMA, "title": "AmountOrZero"})]
_DURATION_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$|^\d+(\.\d+)?$"},
                              {"type": "number", "minimum": 0}]}


class _Strict(BaseModel):
    """Member-app and admin inputs: a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_Lenient = Lenient  # POS inputs: extra fields ignored, blanks absent (switch/wire/lenient.py)


class Envelope(_Lenient):
    """The request envelope common to every channel; the platform's extra fields are kept as text."""

    infno: Text
    msgid: Msgid
    inf_time: NationalText = None
    fixmedins_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    input: Annotated[dict[str, Any], BeforeValidator(decode_input)] = Field(default_factory=dict)
    token: str | None = None
    # The national envelope's other fields: accepted, kept in the journal, not used for any decision.
    mdtrtarea_admvs: NationalText = None
    insuplc_admdvs: NationalText = Field(
        None, description="the national envelope's insured region (参保地医保区划); accepted and journaled")
    recer_sys_code: NationalText = None
    dev_no: NationalText = None
    dev_safe_info: NationalText = None
    cainfo: NationalText = None
    signtype: NationalText = None
    infver: NationalText = None
    opter_type: NationalText = None
    opter: NationalText = None
    opter_name: NationalText = None
    fixmedins_name: NationalText = None
    sign_no: NationalText = None


# --- POS channel -----------------------------------------------------------------------------


class PersonQuery(DataWrapped):
    """1101: read the card."""

    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text
    psn_no: Id | None = None


class SettleData(_Lenient):
    """The settlement body: ``druginfo`` of 2101/2102, ``data`` of 2206/2207."""

    psn_no: Id
    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text
    medfee_sumamt: Fen
    acct_used_flag: Literal["0", "1"]
    insutype: Insutype | None = None
    med_type: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] | None = None


class DrugDetail(_Lenient):
    med_list_codg: Text
    cnt: Annotated[Decimal, Field(gt=0)]
    pric: Fen
    det_item_fee_sumamt: Fen


class PharmacySettle(_Lenient):
    """2101 / 2102."""

    druginfo: SettleData
    drugdetail: list[DrugDetail] | None = None

    @model_validator(mode="after")
    def _details_add_up(self) -> PharmacySettle:
        if self.drugdetail:
            total = sum(item.det_item_fee_sumamt for item in self.drugdetail)
            if total != self.druginfo.medfee_sumamt:
                raise ValueError(
                    f"drugdetail det_item_fee_sumamt add up to {total / 100:.2f}, "
                    f"but druginfo.medfee_sumamt is {self.druginfo.medfee_sumamt / 100:.2f}"
                )
        return self


class OutpatientData(SettleData):
    """The ``data`` of 2206/2207: tied to a registered visit's charge batch when both ids are given."""

    mdtrt_id: Text | None = None
    chrg_bchno: Text | None = None


class OutpatientSettle(_Lenient):
    """2206 / 2207."""

    data: OutpatientData


class Cancel(DataWrapped):
    """2103 / 2208: cancel a settlement."""

    setl_id: Text
    psn_no: Id
    mdtrt_id: Text | None = None


class Reverse(DataWrapped):
    """2601: undo the sender's own earlier message ``omsgid``."""

    psn_no: Id
    omsgid: Msgid
    oinfno: Text


# --- member app channel ----------------------------------------------------------------------


class Bind(_Strict):
    relative_psn_no: Id
    rltn: Relation
    face_verified: StrictBool = False


class Unbind(_Strict):
    relative_psn_no: Id
    face_verified: StrictBool = False


class Accept(_Strict):
    holder_psn_no: Id
    face_verified: StrictBool = False


class Decline(_Strict):
    holder_psn_no: Id


class SetCap(_Strict):
    relative_psn_no: Id
    cap: FenOrZero | None


class Records(_Strict):
    limit: Annotated[StrictInt, Field(ge=1, le=500)] = 50
    before: StrictInt | None = None


class PayPremium(_Strict):
    relative_psn_no: Id
    year: Annotated[StrictInt, Field(ge=1990, le=2100)]
    amount: Fen


class Empty(_Strict):
    pass


# --- admin channel ---------------------------------------------------------------------------


class LoadPerson(_Strict):
    psn_no: Id
    psn_name: Text
    insutype: Insutype
    insuplc_admdvs: Admdvs
    status: Status = "active"
    balc: FenOrZero | None = None
    certs: dict[CertType, Text] = Field(default_factory=dict)
    gend: Literal["1", "2"] | None = None
    brdy: date | None = None

    @model_validator(mode="after")
    def _residents_have_no_account(self) -> LoadPerson:
        if self.insutype == "390" and self.balc:
            raise ValueError("resident-insured (390) people have no personal account; balc must be 0 or absent")
        return self


class LoadBinding(_Strict):
    holder_psn_no: Id
    relative_psn_no: Id
    rltn: Relation
    cap: FenOrZero | None = None


class Load(_Strict):
    people: list[LoadPerson] = Field(default_factory=list)
    bindings: list[LoadBinding] = Field(default_factory=list)


class Credit(_Strict):
    psn_no: Id
    amount: Fen


class SetStatus(_Strict):
    psn_no: Id
    status: Status


MAX_DURATION_SECONDS = 200 * 366 * 86_400  # the virtual clock's whole range (switch/service/clock.py)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: object) -> timedelta:
    """``"4m59s"``, ``"4m59.999s"``, ``"1h"``, ``"300"`` or ``299.999`` (seconds) as a timedelta."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as \"4m59s\" or a number of seconds")
    if isinstance(value, int | float | Decimal):
        seconds = Decimal(str(value))
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = Decimal(text)
        else:
            match = _DURATION.match(text)
            if not text or not match:
                raise ValueError(f"must be a duration such as \"4m59s\", \"1h\" or seconds, got {value!r}")
            hours, minutes, secs = match.groups()
            seconds = Decimal(hours or 0) * 3600 + Decimal(minutes or 0) * 60 + Decimal(secs or 0)
    else:
        raise ValueError(f"must be a duration string or a number of seconds, got {json_kind(value)}")
    if not seconds.is_finite() or seconds > MAX_DURATION_SECONDS:  # NaN, Infinity, 1e20, "99999999999h"
        raise ValueError(f"must be a finite duration of at most {MAX_DURATION_SECONDS} s (200 years), got {value!r}")
    if seconds < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    try:
        return timedelta(microseconds=int(seconds * 1_000_000))
    except OverflowError:  # not a ValueError: pydantic would let it through as a crash
        raise ValueError(f"must be under 999999999 days, got {value!r}") from None


class Clock(_Strict):
    advance: Annotated[timedelta, BeforeValidator(parse_duration),
                       WithJsonSchema(_DURATION_SCHEMA)] | None = None
    set: datetime | None = None
    speed: Annotated[Decimal, Field(ge=0, le=10_000)] | None = None

    @field_validator("set")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        # Refused rather than read as China time: a vendor's serializer dropping the zone is a bug
        # their tests should meet here, not at the platform.
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{value.isoformat(sep=' ')} has no time zone; write it as "
                             f"{value.isoformat()}+08:00 (China time)")
        return value

    @model_validator(mode="after")
    def _one_change(self) -> Clock:
        if self.advance is not None and self.set is not None:
            raise ValueError("give either advance or set, not both")
        return self


class StateQuery(_Strict):
    psn_no: Id | None = None


class PolicyRequest(_Strict):
    set: dict[str, Any] | None = None


FaultAction = Literal["drop_response", "delay_response", "duplicate_response", "drop_request", "error"]
DelayMs = Annotated[StrictInt, Field(ge=0, le=600_000)]
MAX_FAULT_RULES = 256


class FaultMatch(_Strict):
    """Which requests a fault rule hits; an absent key matches anything."""

    terminal_id: Id | None = None
    infno: Text | None = None


class FaultRule(_Strict):
    """One fault rule of admin.faults / ``--faults FILE``.

    ``delay_ms`` is a fixed delay or a ``[min, max]`` range drawn from per request; it is required by
    ``delay_response`` and, on ``duplicate_response``, is the gap before the second copy.
    """

    match: FaultMatch = Field(default_factory=FaultMatch)
    action: FaultAction
    times: Annotated[StrictInt, Field(ge=1)] | None = None
    delay_ms: DelayMs | tuple[DelayMs, DelayMs] | None = None

    @model_validator(mode="after")
    def _delay_fits_action(self) -> FaultRule:
        if self.action == "delay_response" and self.delay_ms is None:
            raise ValueError("delay_response needs delay_ms (milliseconds, or [min, max])")
        if self.delay_ms is not None and self.action not in ("delay_response", "duplicate_response"):
            raise ValueError(f"delay_ms applies to delay_response and duplicate_response, not {self.action}")
        if isinstance(self.delay_ms, tuple) and self.delay_ms[0] > self.delay_ms[1]:
            raise ValueError(f"delay_ms range [{self.delay_ms[0]}, {self.delay_ms[1]}] has min above max")
        return self


class Faults(_Strict):
    """admin.faults: replace the rules (``[]`` clears them); without ``rules``, list those in force."""

    rules: Annotated[list[FaultRule], Field(max_length=MAX_FAULT_RULES)] | None = None

