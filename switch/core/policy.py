"""Region policies: the data that makes Dongying decline-and-retry and Zibo pool automatically."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer, field_validator, model_validator

from switch.datafile import parse_items, read_data_file
from switch.errors import DataFileError
from switch.wire.inputs import Relation

__all__ = ["NoPoolTo", "Policy", "PolicyBook", "PolicyFileError", "load_policy_file", "packaged_policies"]

_DEFAULT_RELATIONS: tuple[Relation, ...] = ("spouse", "parent", "child")
_ADMDVS_KEY = re.compile(r"^([0-9]{6}|[0-9]{2}xxxx|default)$")


class PolicyFileError(DataFileError):
    """A policy file that cannot be used; the message names the file and the problem."""


class NoPoolTo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    admdvs: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    insutype: Literal["310", "390"] | None = None


class Policy(BaseModel):
    """One region's rules; ``admdvs`` lists 6-digit codes, provinces as ``37xxxx``, or ``default``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    admdvs: list[str] = Field(min_length=1)
    flow: Literal["retry_window", "automatic", "disabled"]
    # To the millisecond at most, like every time the answers show (a finer window ends between two of them).
    window_seconds: Annotated[Decimal, Field(gt=0, le=86_400, decimal_places=3)] = Decimal(300)
    max_relatives: Annotated[int, Field(ge=0, le=100)] = 7
    relations: list[Relation] = Field(default_factory=lambda: list(_DEFAULT_RELATIONS))
    fund_ratio: dict[Literal["310", "390"], dict[str, Annotated[Decimal, Field(ge=0, le=1)]]] = Field(
        default_factory=dict
    )
    own_first: bool = True
    no_pool_to: list[NoPoolTo] = Field(default_factory=list)
    # Off: app.bind binds on the holder's word alone (承诺制, as the seeded Shandong regions do). On: the
    # relative confirms from their own app (app.accept / app.decline) before anything pools.
    binding_consent: bool = False
    # On: the region's institutions (by their code's region, switch/core/signin.py) transact only with
    # a live sign_no from 9001 in the envelope; off, as most test benches run, sign-in is optional.
    require_sign_in: bool = False

    @field_validator("admdvs")
    @classmethod
    def _admdvs_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not _ADMDVS_KEY.match(key):
                raise ValueError(f"{key!r} is not a 6-digit code, a province such as '37xxxx', or 'default'")
        return value

    @field_serializer("window_seconds")
    def _seconds_as_number(self, value: Decimal) -> int | float:
        # On the wire the window is a JSON number, as in POOLING_AVAILABLE's window_seconds.
        return int(value) if value == value.to_integral_value() else float(value)

    @model_validator(mode="after")
    def _med_types(self) -> Policy:
        for insutype, table in self.fund_ratio.items():
            for med_type in table:
                if not re.fullmatch(r"[0-9]{2}", med_type):
                    raise ValueError(f"fund_ratio.{insutype}: med_type {med_type!r} is not two digits")
        return self

    def fund_ratio_for(self, insutype: str, med_type: str) -> Decimal:
        table = self.fund_ratio.get(insutype, {})  # type: ignore[call-overload]
        ratio: Decimal = table.get(med_type, Decimal(0))
        return ratio

    def refuses_pooling_to(self, holder_admdvs: str, patient_admdvs: str, patient_insutype: str) -> bool:
        """Whether this policy forbids the holder's account paying for that patient at all."""
        if self.flow == "disabled":
            return True
        if not self.no_pool_to:  # most regions: asked on every pooled settlement
            return False
        return any(
            rule.admdvs == patient_admdvs
            and rule.admdvs != holder_admdvs
            and (rule.insutype is None or rule.insutype == patient_insutype)
            for rule in self.no_pool_to
        )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PolicyBook:
    """All policies, looked up by region: exact code, then province, then ``default``."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._by_name: dict[str, Policy] = {}
        for policy in policies:
            self._by_name[policy.name] = policy
        self._index()

    def _index(self) -> None:
        self._by_key: dict[str, Policy] = {}
        for policy in self._by_name.values():
            for key in policy.admdvs:
                self._by_key[key] = policy  # later definitions win, as in a config override

    def put(self, policy: Policy) -> None:
        self._by_name[policy.name] = policy
        self._index()

    def all(self) -> list[Policy]:
        return list(self._by_name.values())

    def for_region(self, admdvs: str) -> Policy:
        policy = (
            self._by_key.get(admdvs)
            or self._by_key.get(admdvs[:2] + "xxxx")
            or self._by_key.get("default")
        )
        if policy is None:
            raise LookupError(f"no policy covers region {admdvs} and there is no default policy")
        return policy


def _parse(data: object, source: str) -> list[Policy]:
    return parse_items(data, "policies", Policy, source, "policy", PolicyFileError, plural="policies")


def packaged_policies() -> list[Policy]:
    text = resources.files("switch").joinpath("policies.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text), "packaged policies.yaml")


def load_policy_file(path: Path) -> list[Policy]:
    """Read a YAML (or JSON, which is YAML) or TOML policy file."""
    return _parse(read_data_file(path, PolicyFileError), str(path))
