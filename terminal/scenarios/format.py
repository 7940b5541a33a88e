"""The scenario format: a family, its region policy and timed checkout steps with expectations, in YAML.

A scenario is data a person writes; everything here is validated by pydantic (frozen, unknown keys
refused) so a typo fails at load time with the step and field named, not as a timeout at run time.
Shorthands (``settle``, ``card``, ``reverse``) expand to the full wire input here; values only known
at run time (a msgid, a setl_id) are left as ``${step.path}`` references the runner fills in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from switch.service.clock import CST
from switch.wire.topics import ID_PATTERN
from terminal.errors import TerminalError
from terminal.scenarios.parts import (
    PHARMACY,
    Actor,
    BindingSpec,
    CardSpec,
    EventSpec,
    Expect,
    Model,
    PersonSpec,
    PolicySpec,
    PosSpec,
    ReverseSpec,
    SameAs,
    SettleSpec,
    Step,
    offset_text,
)

__all__ = [
    "DEFAULT_START",
    "Actor",
    "EventSpec",
    "Expect",
    "SameAs",
    "Scenario",
    "ScenarioError",
    "Step",
    "load_scenarios",
    "offset_text",
    "parse_scenario",
    "scenario_schema",
]

DEFAULT_START = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
Door = Literal["mqtt", "http"]
DOORS: tuple[Door, ...] = ("mqtt", "http")
REF = re.compile(r"\$\{([A-Za-z0-9_-]+)\.([^}]+)\}")


class ScenarioError(TerminalError, ValueError):
    """A scenario file that cannot be used; the message names the file, the scenario and the field."""


class Problems(ValueError):
    """The scenario's own checks that failed, each with the index of its step (None: not a step's)."""

    def __init__(self, items: list[tuple[int | None, str]]) -> None:
        super().__init__("\n".join(text for _, text in items))
        self.items = items


class Scenario(Model):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    clock: Literal["virtual", "system"] = Field("virtual", description="system: a switch on the real clock "
                                                                       "(use wait:, not at:)")
    start: datetime = Field(DEFAULT_START, description="where the virtual clock stands at +0s, with its zone: "
                                                       "2026-11-25T10:00:00+08:00")
    pos: PosSpec | None = Field(default=None, description="the default POS terminal of pos steps")
    policy: PolicySpec | list[PolicySpec] = Field(default_factory=list, description="one policy or a list")
    people: list[PersonSpec] = Field(default_factory=list)
    bindings: list[BindingSpec] = Field(default_factory=list)
    audit: bool = Field(True, description="check the ledger with admin.audit after the last step")
    doors: list[Door] = Field(
        default_factory=lambda: list(DOORS), min_length=1,
        description="the doors it holds on; [mqtt] for what only MQTT has (a topic's terminal id as the "
                    "sender, v1's inf_refmsgid)")
    steps: list[Step] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _zoned(cls, value: datetime) -> datetime:
        # As admin.clock does: a time without its zone is refused, not guessed (the runner sends it there).
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat(sep=' ')} has no time zone; write it as "
                             f"{value.isoformat()}+08:00 (China time)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        problems = self.problems()
        if problems:
            raise Problems(problems)
        return self

    def problems(self) -> list[tuple[int | None, str]]:
        """Every inconsistency between the steps and the rest, in step order, as (step index, text)."""
        found: list[tuple[int | None, str]] = []
        people = {p.psn_no for p in self.people}
        if len(people) != len(self.people):
            found.append((None, "people: a psn_no appears twice"))
        seen: dict[str, int] = {}
        last_at = timedelta(0)
        for i, step in enumerate(self.steps):
            where = self.label(i)
            for ref in dict.fromkeys(_references(step)):
                if ref not in seen:
                    found.append((i, f"{where}: refers to step {ref!r}, which is not an earlier named step"))
            if step.wait is not None and self.clock == "virtual":
                found.append((i, f"{where}: wait: is real time and leaves the virtual clock where it is; to let "
                                 "virtual time pass write at: (time since the start), or run on clock: system"))
            if step.at is not None:
                if self.clock == "system":
                    found.append((i, f"{where}: 'at' needs the virtual clock; on the system clock use 'wait'"))
                elif step.at < last_at:
                    found.append((i, f"{where}: at {offset_text(step.at)} is before an earlier step's "
                                     f"{offset_text(last_at)}; virtual time only moves forward"))
                last_at = max(last_at, step.at)
            for psn in dict.fromkeys(_people_needed(step)):
                if psn not in people:
                    found.append((i, f"{where}: {psn} is not among the scenario's people (whose card?)"))
            try:
                self.actor(i)  # raises when no actor can be chosen
            except ValueError as exc:
                found.append((i, str(exc)))
            if step.name is not None:
                if step.name in seen:
                    found.append((i, f"{where}: step name {step.name!r} used twice"))
                seen.setdefault(step.name, i)
        return found

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
        cert_no = s.cert_no if s.cert_no is not None else self.person(s.cert_of or s.psn_no).cert(s.cert_type)
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


def _where(loc: tuple[int | str, ...], document: Any) -> str:
    """An error's place as a person reads it: ``step 1 'buy': expect.cod``, else ``people.0.balc``."""
    steps = document.get("steps") if isinstance(document, dict) else None
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int) and isinstance(steps, list):
        i = loc[1]
        name = steps[i].get("name") if i < len(steps) and isinstance(steps[i], dict) else None
        step = f"step {i + 1}" + (f" '{name}'" if isinstance(name, str) and name else "")
        return step + (": " + ".".join(str(p) for p in loc[2:]) if len(loc) > 2 else "")
    return ".".join(str(p) for p in loc)


MISSING_KEY = object()


def _key(node: dict[Any, Any], part: int | str) -> Any:
    """The key of ``node`` that ``part`` of an error's place names (YAML may have read it as a number)."""
    if part in node:
        return part
    return next((k for k in node if str(k) == str(part)), MISSING_KEY)


@dataclass(frozen=True, slots=True)
class _Error:
    """One pydantic error, its place without union branch names, and the union it is a branch of."""

    loc: tuple[int | str, ...]
    type: str
    msg: str
    union: tuple[int | str, ...] | None = None  # the place of the union whose branch failed
    branch: str = ""
    problems: list[tuple[int | None, str]] | None = None  # the scenario's own checks (Problems)


def _error(e: ErrorDetails, document: Any) -> _Error:
    """Where in the document ``e`` is: the names pydantic gives union branches (``list[PolicySpec]``,
    ``literal[...]``) are parts no document has, and are taken out."""
    node, loc = document, []
    union: tuple[int | str, ...] | None = None
    branch = ""
    parts = e["loc"]
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        key = _key(node, part) if isinstance(node, dict) else MISSING_KEY
        if key is not MISSING_KEY:
            loc.append(part)
            node = node[key]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            loc.append(part)
            node = node[part]
        elif (last and e["type"] == "missing") or part == "[key]" or isinstance(part, int):
            loc.append(part)
        elif union is None:  # a branch of a union: no such key in the document
            union, branch = tuple(loc), str(part)
    error = e.get("ctx", {}).get("error")
    problems = error.items if isinstance(error, Problems) else None
    return _Error(tuple(loc), e["type"], e["msg"].removeprefix("Value error, "), union, branch, problems)


def _pick_branches(errors: list[_Error]) -> list[_Error]:
    """Of a union's failed branches, those that fit what was written: the one that got furthest into
    the value (a dict given where a model or a list of them may go), else not the "should be a
    dictionary" of a branch that never fit. ``policy: {...}`` is not also told it is not a list."""
    unions: dict[tuple[int | str, ...], list[_Error]] = {}
    for e in errors:
        if e.union is not None:
            unions.setdefault(e.union, []).append(e)
    keep: set[int] = set()
    for place, branches in unions.items():
        depth = {b.branch: 0 for b in branches}
        for b in branches:
            depth[b.branch] = max(depth[b.branch], len(b.loc) - len(place))
        deepest = max(depth.values())
        best = [b for b in branches if depth[b.branch] == deepest]
        if deepest == 0:
            fitting = [b for b in best if not b.type.endswith("_type")]
            best = fitting or best[:1]
        keep.update(id(b) for b in best)
    return [e for e in errors if e.union is None or id(e) in keep]


def _describe(exc: ValidationError, document: Any = None) -> list[tuple[int | None, str]]:
    """Each problem once, as (step index or None, the line that names its place)."""
    found: list[tuple[int | None, str]] = []
    for e in _pick_branches([_error(e, document) for e in exc.errors(include_url=False)]):
        if e.problems is not None:  # the scenario's own checks name their places
            found += e.problems
            continue
        msg = "unknown key (typo?)" if e.type == "extra_forbidden" else e.msg
        found.append((_step_of(e.loc), f"{_where(e.loc, document) or '(top level)'}: {msg}"))
    return found


def _step_of(loc: tuple[int | str, ...]) -> int | None:
    return loc[1] if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int) else None


def _lines(problems: list[tuple[int | None, str]]) -> str:
    """Problems in the file's order: the scenario's own first, then step by step."""
    ordered = sorted(problems, key=lambda p: -1 if p[0] is None else p[0])
    return "\n".join(f"  {text}" for _, text in ordered)


def _placeholders(document: Any, exc: ValidationError) -> tuple[Any, set[int]] | None:
    """The document with each step that did not load replaced by one that says nothing, and the indices of
    the steps that did load; None when more than steps failed (then the steps cannot be checked together)."""
    failed: set[int] = set()
    for e in exc.errors(include_url=False):
        i = _step_of(e["loc"])
        if i is None:
            return None
        failed.add(i)
    steps = document["steps"]
    kept = []
    for i, step in enumerate(steps):
        if i not in failed:
            kept.append(step)
            continue
        stand_in: dict[str, Any] = {"admin": True, "infno": "admin.state"}
        name = step.get("name") if isinstance(step, dict) else None
        if isinstance(name, str) and re.fullmatch(ID_PATTERN, name):  # later steps may refer to it
            stand_in["name"] = name
        kept.append(stand_in)
    return {**document, "steps": kept}, set(range(len(steps))) - failed


def parse_scenario(document: Any, source: str = "scenario") -> Scenario:
    """One scenario from parsed YAML, or ScenarioError listing every problem with its place, in order."""
    name = document.get("name") if isinstance(document, dict) else None
    which = f"{source} ({name})" if name else source
    try:
        return Scenario.model_validate(document)
    except ValidationError as exc:
        problems = _describe(exc, document)
        partial = _placeholders(document, exc) if not any(p[0] is None for p in problems) else None
        if partial is not None:  # the steps that loaded are still checked against each other and the rest
            stand_in, loaded = partial
            try:
                Scenario.model_validate(stand_in)
            except ValidationError as again:
                problems += [p for p in _describe(again, stand_in) if p[0] is None or p[0] in loaded]
        raise ScenarioError(f"{which} is not a valid scenario:\n{_lines(problems)}") from None


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
