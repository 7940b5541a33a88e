"""The parts of a scenario: people, bindings, policies, and steps with what they send and expect.

Every model is frozen and refuses unknown keys, so a misspelt key in a YAML file is an error that
names it. YAML reads 2102, 310 and 80.00 as numbers; the scalar types below turn them back into
the text the wire wants.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo

from switch.core.codes import Code
from switch.core.money import format_fen
from switch.core.policy import Policy
from switch.wire.events import EVENT_MODELS
from switch.wire.glossary import describe
from switch.wire.inputs import LoadBinding, parse_duration
from switch.wire.topics import ID_PATTERN

__all__ = [
    "CLINIC",
    "EVENT_TYPES",
    "PHARMACY",
    "Actor",
    "Amount",
    "BindingSpec",
    "CardSpec",
    "EventSpec",
    "EventType",
    "Expect",
    "Model",
    "PersonSpec",
    "PolicySpec",
    "PosSpec",
    "ReverseSpec",
    "SameAs",
    "SettleSpec",
    "Step",
    "Text",
    "offset_text",
]

# The switch's own event types and policy fields (switch/wire/events.py, switch/core/policy.py), never a
# copy of them: an event or a policy field the switch gains is one scenarios can name at once.
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)
if TYPE_CHECKING:
    EventType = str
else:
    EventType = Literal[EVENT_TYPES]
PHARMACY, CLINIC = ("2101", "2102"), ("2206", "2207")
ANSWER_FIELDS = ("code", "infcode", "err_msg", "err_msg_contains", "inf_refmsgid", "output", "same_response_as")


# --- scalar types: YAML turns 2102, 310 and 80.00 into numbers; the wire wants text --------------


def _text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _amount(value: object) -> object:
    """80 or 80.5 from YAML become "80.00" / "80.50"; a quoted amount is sent exactly as written."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        amount = Decimal(str(value))
        return f"{amount:.2f}" if amount == amount.quantize(Decimal("0.01")) else str(amount)
    return value


def _cert_type(value: object) -> object:
    return f"{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else value


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        value = value.strip().removeprefix("+")
    return parse_duration(value)


Text = Annotated[str, BeforeValidator(_text)]
Amount = Annotated[str, BeforeValidator(_amount), WithJsonSchema(
    {"type": ["string", "number"],
     "description": "an amount such as \"80.00\"; quote it to send it as written"})]
CertType = Annotated[Literal["01", "02", "03"], BeforeValidator(_cert_type)]
Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema(
    {"type": ["string", "number"], "pattern": r"^\+?(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$|^\+?\d+(\.\d+)?$",
     "description": "\"+4m59.999s\", \"1.5s\", \"1h\" or a number of seconds"})]


def offset_text(delta: timedelta) -> str:
    """A timedelta the way scenarios write it: ``+4m59.999s``, ``+5m``, ``+0s``."""
    micros = delta // timedelta(microseconds=1)
    minutes, micros = divmod(micros, 60_000_000)
    seconds = Decimal(micros) / 1_000_000
    text = f"{minutes}m" if minutes else ""
    if seconds or not minutes:
        text += f"{seconds.normalize():f}s"
    return "+" + text


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the family and the policy ----------------------------------------------------------------------


class PersonSpec(Model):
    """One insured person; certificates 01/02/03 default to ``QR<psn_no>``, ``ID<psn_no>``, ``SS<psn_no>``."""

    psn_no: Text
    psn_name: str | None = None
    insutype: Annotated[Literal["310", "390"], BeforeValidator(_text)] = "310"
    insuplc_admdvs: Text
    status: Literal["active", "suspended"] = "active"
    balc: Amount | None = None
    certs: dict[CertType, Text] | None = None

    def cert(self, cert_type: str) -> str | None:
        return self.all_certs().get(cert_type)

    def all_certs(self) -> dict[str, str]:
        if self.certs is not None:
            return {str(k): v for k, v in self.certs.items()}
        return {"01": f"QR{self.psn_no}", "02": f"ID{self.psn_no}", "03": f"SS{self.psn_no}"}

    def wire(self) -> dict[str, Any]:
        person: dict[str, Any] = {"psn_no": self.psn_no, "psn_name": self.psn_name or f"参保人{self.psn_no}",
                                  "insutype": self.insutype, "insuplc_admdvs": self.insuplc_admdvs,
                                  "status": self.status, "certs": self.all_certs()}
        if self.balc is not None:
            person["balc"] = self.balc
        return person


class BindingSpec(LoadBinding):
    """A binding of the scenario's family: admin.load's own wire model, so the two cannot disagree."""

    def wire(self) -> dict[str, Any]:
        binding = self.model_dump(exclude_none=True)
        if self.cap is not None:
            binding["cap"] = format_fen(self.cap)
        return binding


def _yaml_text(value: object) -> object:
    """``value`` with every integer (keys too) as text: YAML reads ``370500`` and ``310:`` as numbers."""
    if isinstance(value, dict):
        return {_yaml_text(k): _yaml_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_text(v) for v in value]
    return _text(value)


def _policy_field(name: str, field: FieldInfo) -> tuple[Any, Any]:
    """A field of the switch's ``Policy`` for a scenario: optional (it goes over a base policy), with its
    constraints, and the text the switch wants where YAML read a number (``admdvs: [370500]``)."""
    annotation: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def as_yaml_meant(value: object) -> object:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return _yaml_text(value)
        return value

    if name == "name":
        return Annotated[annotation, BeforeValidator(_text)], Field(description=describe("name") or None)
    return (Annotated[annotation | None, BeforeValidator(as_yaml_meant)],
            Field(default=None, description=describe(name) or None))


class _PolicyOver(Model):
    """A policy set by admin.policy: these fields over ``extends`` (or over the policy of the same name)."""

    name: str
    extends: str | None = Field(default=None, description="the policy whose fields this one starts from")

    def over(self, base: dict[str, Any] | None) -> dict[str, Any]:
        given = self.model_dump(mode="json", exclude_none=True, exclude={"extends"})
        return {**(base or {}), **given}


if TYPE_CHECKING:
    PolicySpec = _PolicyOver
else:
    PolicySpec = create_model(
        "PolicySpec", __base__=_PolicyOver, __doc__=_PolicyOver.__doc__, __module__=__name__,
        **{name: _policy_field(name, field) for name, field in Policy.model_fields.items()})


# --- who acts and what they send --------------------------------------------------------------------


class PosSpec(Model):
    terminal: Text
    fixmedins_code: Text | None = None


class SettleSpec(Model):
    """A settlement (2102, or the step's ``infno``: 2101/2206/2207) with the patient's own card."""

    psn_no: Text
    amount: Amount
    flag: Annotated[Literal["0", "1"], BeforeValidator(_text)] = "1"
    cert_type: CertType = "01"
    cert_of: Text | None = Field(
        default=None, description="present this person's certificate (CERT_MISMATCH)")
    cert_no: Text | None = None
    insutype: Text | None = None
    med_type: Text | None = None
    drugdetail: list[dict[str, Any]] | None = None


class CardSpec(Model):
    """1101: read the card of ``cert_of`` (optionally claiming it is ``psn_no``'s)."""

    cert_of: Text
    cert_type: CertType = "01"
    psn_no: Text | None = None


class ReverseSpec(Model):
    """2601 of an earlier step (``step``), or of a message given by ``omsgid``/``oinfno``/``psn_no``."""

    step: str | None = None
    omsgid: Text | None = None
    oinfno: Text | None = None
    psn_no: Text | None = None

    @model_validator(mode="after")
    def _what(self) -> ReverseSpec:
        if self.step is None and (self.omsgid is None or self.oinfno is None or self.psn_no is None):
            raise ValueError("give 'step' (an earlier step's name) or all of omsgid, oinfno and psn_no")
        return self


class SameAs(Model):
    same_as: str = Field(description="reuse the msgid of this earlier step (idempotency)")


class EventSpec(Model):
    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


class Expect(Model):
    """What the answer and the switch must look like after the step; only what is given is checked."""

    answer: Literal["none"] | None = Field(
        default=None, description="none: no answer may come (a fault rule's drop_response): the step waits its "
                                  "timeout (default 1 s) and fails if one comes; events and state are checked")
    code: Code | None = None
    infcode: int | None = None
    err_msg: str | None = None
    err_msg_contains: str | None = None
    inf_refmsgid: str | None = Field(
        default=None, description="checked when given, even as null (raw payloads)")
    output: dict[str, Any] | None = Field(
        default=None, description="subset of output; keys may be dotted paths: setlinfo.acct_mulaid_pay")
    same_response_as: str | None = Field(
        default=None, description="the answer equals this earlier step's answer")
    events: list[EventType | EventSpec] | None = Field(
        default=None, description="events seen, in this order (others may come between)")
    events_absent: list[EventType] | None = None
    balances: dict[Text, Amount] | None = Field(default=None, description="account balances after, by psn_no")
    windows: list[Text | dict[str, Any]] | None = Field(
        default=None, description="exactly the open windows after: psn_no, or a subset of one")
    state: dict[str, Any] | None = Field(
        default=None, description="subset of admin.state's output after the step")

    @model_validator(mode="after")
    def _nothing_of_no_answer(self) -> Expect:
        if self.answer == "none":
            given = [k for k in ANSWER_FIELDS if k in self.model_fields_set]
            if given:
                raise ValueError(f"answer: none expects no answer, so nothing of one can be checked; remove "
                                 f"{', '.join(given)}")
        return self

    def checks_refmsgid(self) -> bool:
        return "inf_refmsgid" in self.model_fields_set

    def needs_state(self) -> bool:
        return self.balances is not None or self.windows is not None or self.state is not None


Actor = tuple[str, str, str | None]  # channel, sender, fixmedins_code


class Step(Model):
    name: str | None = Field(default=None, pattern=ID_PATTERN)
    note: str | None = None
    pos: PosSpec | Text | None = Field(
        default=None, description="a POS terminal: {terminal, fixmedins_code}, or a terminal id using the "
                                  "scenario's fixmedins_code")
    app: Text | None = Field(default=None, description="the member app of this psn_no")
    admin: bool = False
    infno: Text | None = None
    input: dict[str, Any] | None = None
    settle: SettleSpec | None = None
    card: CardSpec | Text | None = None
    reverse: ReverseSpec | str | None = None
    raw: str | None = Field(default=None, description="send these bytes as they are (not JSON, no msgid...)")
    msgid: Text | SameAs | None = None
    token: str | None = Field(
        default=None, description="admin token to send instead of the runner's (UNAUTHORIZED)")
    envelope: dict[str, Any] | None = Field(
        default=None, description="envelope fields to add; null removes one")
    at: Duration | None = Field(
        default=None, description="virtual time since the scenario start, e.g. +4m59.999s; never sets the "
                                  "clock back (not even behind a step's own admin.clock)")
    wait: Duration | None = Field(
        default=None, description="real seconds to wait before sending (clock: system only; the virtual clock "
                                  "moves with at:)")
    timeout: Duration | None = Field(
        default=None, description="how long to wait for the answer (default: the run's --timeout; with "
                                  "answer: none, 1 s or --timeout if shorter)")
    expect: Expect = Field(default_factory=lambda: Expect.model_validate({}))
    expect_http: Expect | None = Field(
        default=None, description="what the HTTP door answers instead, where its national form differs "
                                  "(e.g. psn_insu_stas \"1\" for active): replaces expect when run with --http")
    save: dict[str, str] | None = Field(
        default=None, description="name: path in the answer, output.setlinfo.setl_id")

    @model_validator(mode="after")
    def _one_message(self) -> Step:
        given = [k for k in ("settle", "card", "reverse", "raw") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of settle, card, reverse, raw; got {', '.join(given)}")
        if not given and self.infno is None:
            raise ValueError("a step sends something: give infno (+ input), settle, card, reverse or raw")
        if given and given[0] != "settle" and self.infno is not None:
            raise ValueError(f"{given[0]} sets its own infno; remove infno")
        if self.settle is not None and self.infno not in (None, *PHARMACY, *CLINIC):
            raise ValueError("settle expands to 2101/2102/2206/2207 only")
        if self.input is not None and (given or self.infno is None):
            raise ValueError("input goes with infno only")
        if self.save and "none" in (self.expect.answer, self.expect_http and self.expect_http.answer):
            raise ValueError("save needs an answer; this step expects none (answer: none)")
        actors = [k for k in ("pos", "app") if getattr(self, k) is not None]
        actors += ["admin"] if self.admin else []
        if len(actors) > 1:
            raise ValueError(f"one actor per step; got {', '.join(actors)}")
        return self

    @property
    def sent_infno(self) -> str | None:
        if self.settle is not None:
            return self.infno or "2102"
        if self.card is not None:
            return "1101"
        if self.reverse is not None:
            return "2601"
        return self.infno
