"""The scenario format: a family, its region policy and timed checkout steps with expectations, in YAML.

A scenario is data a person writes; everything here is validated by pydantic (frozen, unknown keys
refused) so a typo fails at load time with the step and field named, not as a timeout at run time.
Shorthands (``settle``, ``card``, ``reverse``) expand to the full wire input here; values only known
at run time (a msgid, a setl_id) are left as ``${step.path}`` references the runner fills in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from switch.clock import CST
from switch.codes import Code
from switch.wire import Relation, parse_duration

__all__ = [
    "DEFAULT_START",
    "EVENT_TYPES",
    "Actor",
    "Expect",
    "Scenario",
    "ScenarioError",
    "Step",
    "load_scenarios",
    "offset_text",
    "parse_scenario",
    "scenario_schema",
]

DEFAULT_START = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
EVENT_TYPES = ("settlement.committed", "settlement.declined", "settlement.cancelled", "settlement.reversed",
               "window.opened", "window.used", "window.expired", "window.closed", "binding.created",
               "binding.removed")
EventType = Literal["settlement.committed", "settlement.declined", "settlement.cancelled",
                    "settlement.reversed", "window.opened", "window.used", "window.expired", "window.closed",
                    "binding.created", "binding.removed"]
REF = re.compile(r"\$\{([A-Za-z0-9_-]+)\.([^}]+)\}")
PHARMACY, CLINIC = ("2101", "2102"), ("2206", "2207")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file, the scenario and the field."""


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


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the family and the policy ----------------------------------------------------------------------


class PersonSpec(_Model):
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


class BindingSpec(_Model):
    holder_psn_no: Text
    relative_psn_no: Text
    rltn: Relation
    cap: Amount | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class PolicySpec(_Model):
    """A policy set by admin.policy: these fields over ``extends`` (or over the policy of the same name)."""

    name: str
    extends: str | None = None
    admdvs: list[Text] | None = None
    flow: Literal["retry_window", "automatic", "disabled"] | None = None
    window_seconds: Annotated[Decimal, Field(gt=0)] | None = None
    max_relatives: int | None = None
    relations: list[Relation] | None = None
    fund_ratio: dict[Text, dict[Text, Any]] | None = None
    own_first: bool | None = None
    no_pool_to: list[dict[str, Any]] | None = None

    def over(self, base: dict[str, Any] | None) -> dict[str, Any]:
        given = self.model_dump(mode="json", exclude_none=True, exclude={"extends"})
        return {**(base or {}), **given}


# --- who acts and what they send --------------------------------------------------------------------


class PosSpec(_Model):
    terminal: Text
    fixmedins_code: Text | None = None


class SettleSpec(_Model):
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


class CardSpec(_Model):
    """1101: read the card of ``cert_of`` (optionally claiming it is ``psn_no``'s)."""

    cert_of: Text
    cert_type: CertType = "01"
    psn_no: Text | None = None


class ReverseSpec(_Model):
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


class SameAs(_Model):
    same_as: str = Field(description="reuse the msgid of this earlier step (idempotency)")


class EventSpec(_Model):
    type: EventType
    data: dict[str, Any] = Field(default_factory=dict)


class Expect(_Model):
    """What the answer and the switch must look like after the step; only what is given is checked."""

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

    def checks_refmsgid(self) -> bool:
        return "inf_refmsgid" in self.model_fields_set

    def needs_state(self) -> bool:
        return self.balances is not None or self.windows is not None or self.state is not None


Actor = tuple[str, str, str | None]  # channel, sender, fixmedins_code


class Step(_Model):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
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
        default=None, description="virtual time since the scenario start, e.g. +4m59.999s")
    wait: Duration | None = Field(
        default=None, description="real seconds to wait before sending (system clock)")
    timeout: Duration | None = None
    expect: Expect = Field(default_factory=lambda: Expect.model_validate({}))
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


class Scenario(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    clock: Literal["virtual", "system"] = Field("virtual", description="system: a switch on the real clock "
                                                                       "(use wait:, not at:)")
    start: datetime = Field(DEFAULT_START, description="where the virtual clock stands at +0s")
    pos: PosSpec | None = Field(default=None, description="the default POS terminal of pos steps")
    policy: PolicySpec | list[PolicySpec] = Field(default_factory=list, description="one policy or a list")
    people: list[PersonSpec] = Field(default_factory=list)
    bindings: list[BindingSpec] = Field(default_factory=list)
    audit: bool = Field(True, description="check the ledger with admin.audit after the last step")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        people = {p.psn_no for p in self.people}
        if len(people) != len(self.people):
            raise ValueError("people: a psn_no appears twice")
        seen: dict[str, int] = {}
        last_at = timedelta(0)
        for i, step in enumerate(self.steps):
            where = f"steps[{i}] ({self.label(i)})"
            for ref in _references(step):
                if ref not in seen:
                    raise ValueError(f"{where}: refers to step {ref!r}, which is not an earlier named step")
            if step.at is not None:
                if self.clock == "system":
                    raise ValueError(f"{where}: 'at' needs the virtual clock; on the system clock use 'wait'")
                if step.at < last_at:
                    raise ValueError(f"{where}: at {offset_text(step.at)} is before the previous step's "
                                     f"{offset_text(last_at)}; virtual time only moves forward")
                last_at = step.at
            for psn in _people_needed(step):
                if psn not in people:
                    raise ValueError(f"{where}: {psn} is not among the scenario's people (whose card?)")
            self.actor(i)  # raises when no actor can be chosen
            if step.name is not None:
                if step.name in seen:
                    raise ValueError(f"{where}: step name {step.name!r} used twice")
                seen[step.name] = i
        return self

    # --- expansion --------------------------------------------------------------------------------

    @property
    def policies(self) -> list[PolicySpec]:
        return [self.policy] if isinstance(self.policy, PolicySpec) else list(self.policy)

    def label(self, i: int) -> str:
        step = self.steps[i]
        return f"step {i + 1}" + (f" '{step.name}'" if step.name else "")

    def person(self, psn_no: str) -> PersonSpec:
        return next(p for p in self.people if p.psn_no == psn_no)

    def index_of(self, name: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.name == name)

    def actor(self, i: int) -> Actor:
        """(channel, sender, fixmedins_code) of step ``i``: explicit, else implied by what it sends."""
        step = self.steps[i]
        default_code = self.pos.fixmedins_code if self.pos is not None else None
        if isinstance(step.pos, PosSpec):
            return "pos", step.pos.terminal, step.pos.fixmedins_code or default_code
        if isinstance(step.pos, str):
            return "pos", step.pos, default_code
        if step.app is not None:
            return "app", step.app, None
        if step.admin or (step.infno or "").startswith("admin."):
            return "admin", "admin", None
        if isinstance(step.reverse, str) or (isinstance(step.reverse, ReverseSpec) and step.reverse.step):
            original = step.reverse if isinstance(step.reverse, str) else step.reverse.step
            assert original is not None
            if original in {s.name for s in self.steps[:i]}:
                return self.actor(self.index_of(original))
        if (step.infno or "").startswith("app."):
            raise ValueError(f"{self.label(i)}: an app.* request needs 'app: <psn_no>' (whose app sends it)")
        if self.pos is None:
            raise ValueError(f"{self.label(i)}: no actor; give pos:, app: or admin: true (or scenario pos:)")
        return "pos", self.pos.terminal, default_code

    def request(self, i: int) -> tuple[str, dict[str, Any]]:
        """(infno, input) of step ``i``, with ``${step.path}`` references for what the run decides."""
        step = self.steps[i]
        if step.settle is not None:
            return self._settle(step.settle, step.sent_infno or "2102")
        if step.card is not None:
            card = CardSpec(cert_of=step.card) if isinstance(step.card, str) else step.card
            body: dict[str, Any] = {"mdtrt_cert_type": card.cert_type,
                                    "mdtrt_cert_no": self.person(card.cert_of).cert(card.cert_type)}
            if card.psn_no is not None:
                body["psn_no"] = card.psn_no
            return "1101", body
        if step.reverse is not None:
            spec = ReverseSpec(step=step.reverse) if isinstance(step.reverse, str) else step.reverse
            if spec.step is not None:
                original = self.steps[self.index_of(spec.step)]
                psn_no = spec.psn_no or (original.settle.psn_no if original.settle is not None else None)
                if psn_no is None:
                    raise ScenarioError(f"{self.label(i)}: reverse of {spec.step!r} needs psn_no")
                return "2601", {"psn_no": psn_no, "omsgid": spec.omsgid or f"${{{spec.step}.msgid}}",
                                "oinfno": spec.oinfno or f"${{{spec.step}.infno}}"}
            return "2601", {"psn_no": spec.psn_no, "omsgid": spec.omsgid, "oinfno": spec.oinfno}
        if step.infno is None:
            raise ScenarioError(f"{self.label(i)} sends raw bytes, not a request")
        return step.infno, dict(step.input or {})

    def _settle(self, s: SettleSpec, infno: str) -> tuple[str, dict[str, Any]]:
        holder_of_card = self.person(s.cert_of or s.psn_no) if s.cert_no is None else None
        cert_no = s.cert_no if s.cert_no is not None else holder_of_card.cert(s.cert_type)  # type: ignore[union-attr]
        body: dict[str, Any] = {"psn_no": s.psn_no, "mdtrt_cert_type": s.cert_type, "mdtrt_cert_no": cert_no,
                                "medfee_sumamt": s.amount, "acct_used_flag": s.flag}
        if s.insutype is not None:
            body["insutype"] = s.insutype
        if s.med_type is not None:
            body["med_type"] = s.med_type
        if infno in PHARMACY:
            payload: dict[str, Any] = {"druginfo": body}
            if s.drugdetail is not None:
                payload["drugdetail"] = s.drugdetail
            return infno, payload
        return infno, {"data": body}

    def needs(self) -> set[str]:
        """What the target switch must offer: virtual_clock, system_clock, admin_token."""
        needs = {"system_clock"} if self.clock == "system" else set()
        if any(s.at is not None for s in self.steps):
            needs.add("virtual_clock")
        if any(s.token is not None for s in self.steps):
            needs.add("admin_token")
        return needs


def _references(step: Step) -> Iterator[str]:
    """Names of earlier steps this step refers to."""
    if isinstance(step.msgid, SameAs):
        yield step.msgid.same_as
    if isinstance(step.reverse, str):
        yield step.reverse
    elif isinstance(step.reverse, ReverseSpec) and step.reverse.step is not None:
        yield step.reverse.step
    if step.expect.same_response_as is not None:
        yield step.expect.same_response_as
    for text in _strings(step.model_dump(mode="json")):
        for match in REF.finditer(text):
            yield match.group(1)


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def _people_needed(step: Step) -> Iterator[str]:
    if step.settle is not None and step.settle.cert_no is None:
        yield step.settle.cert_of or step.settle.psn_no
    if isinstance(step.card, str):
        yield step.card
    elif step.card is not None:
        yield step.card.cert_of


# --- files ------------------------------------------------------------------------------------------


def _describe(exc: ValidationError) -> str:
    lines = []
    for e in exc.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


def parse_scenario(document: Any, source: str = "scenario") -> Scenario:
    """One scenario from parsed YAML, or ScenarioError listing every problem with its place."""
    name = document.get("name") if isinstance(document, dict) else None
    which = f"{source} ({name})" if name else source
    try:
        return Scenario.model_validate(document)
    except ValidationError as exc:
        raise ScenarioError(f"{which} is not a valid scenario:\n{_describe(exc)}") from None


def load_scenarios(path: Path) -> list[Scenario]:
    """Every scenario of a YAML file (one per YAML document), or ScenarioError saying what is wrong."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not documents:
        raise ScenarioError(f"{path}: no scenario in this file")
    scenarios = [parse_scenario(doc, f"{path}: document {n + 1}") for n, doc in enumerate(documents)]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ScenarioError(f"{path}: two scenarios share a name")
    return scenarios


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario document, for editors (yaml-language-server) and vendors' tools."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "gongji scenario"
    return schema
