"""A synthetic population for load runs: Dongying and Zibo families and single savers, in admin.load chunks.

Every person is derived from the prefix and a number, so a population is the same each time it is
built and loading it again simply resets the same people (``admin.load`` upserts; ``balc`` sets
the balance). Families never straddle two chunks: a binding names people loaded with it or before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from switch.core.money import format_fen
from switch.wire.inputs import MAX_PAYLOAD_BYTES

__all__ = ["CHUNK_BUDGET", "Family", "Population", "build_population", "cert_of"]

DONGYING, ZIBO = "370500", "370300"  # retry-window and automatic pooling (switch/policies.yaml)
# Room left under the protocol's 64 KiB for the envelope around a chunk's input.
CHUNK_BUDGET = MAX_PAYLOAD_BYTES - 1_024
# Big enough that no run of realistic length exhausts an account: the expected codes of every
# checkout stay predictable (a holder at 0.00 would turn a pooling prompt into a cash payment).
BALANCE_FEN = 50_000_000  # 500,000.00
RELATIONS = ("spouse", "child", "parent")
MAX_RELATIVES = 4  # families are holder + 1..4 relatives (the policies allow 7)


@dataclass(frozen=True, slots=True)
class Family:
    """A holder (310, with an account) and relatives who are resident-insured (390, no account)."""

    admdvs: str
    holder: str
    relatives: tuple[str, ...]

    @property
    def members(self) -> tuple[str, ...]:
        return (self.holder, *self.relatives)


@dataclass(frozen=True, slots=True)
class Population:
    prefix: str
    singles: tuple[str, ...]  # employees (310) who pay from their own account
    dongying: tuple[Family, ...]
    zibo: tuple[Family, ...]

    @property
    def families(self) -> tuple[Family, ...]:
        return self.dongying + self.zibo

    @property
    def people(self) -> int:
        return len(self.singles) + sum(len(f.members) for f in self.families)

    @property
    def bindings(self) -> int:
        return sum(len(f.relatives) for f in self.families)

    def chunks(self, budget: int = CHUNK_BUDGET) -> Iterator[dict[str, Any]]:
        """``admin.load`` inputs of at most ``budget`` bytes of JSON each, families kept whole."""
        people: list[dict[str, Any]] = []
        bindings: list[dict[str, Any]] = []
        size = 0
        for unit_people, unit_bindings in self._units():
            unit_size = sum(len(_dump(item)) + 1 for item in (*unit_people, *unit_bindings))
            if people and size + unit_size > budget - 40:  # 40: the braces and keys around the two lists
                yield {"people": people, "bindings": bindings}
                people, bindings, size = [], [], 0
            people += unit_people
            bindings += unit_bindings
            size += unit_size
        if people:
            yield {"people": people, "bindings": bindings}

    def _units(self) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        for i, psn_no in enumerate(self.singles):
            yield [_person(psn_no, "310", DONGYING if i % 2 else ZIBO, BALANCE_FEN)], []
        for family in self.families:
            people = [_person(family.holder, "310", family.admdvs, BALANCE_FEN)]
            people += [_person(r, "390", family.admdvs, None) for r in family.relatives]
            bindings = [{"holder_psn_no": family.holder, "relative_psn_no": r,
                         "rltn": RELATIONS[j % len(RELATIONS)]} for j, r in enumerate(family.relatives)]
            yield people, bindings


def cert_of(psn_no: str) -> str:
    """The e-voucher QR code (certificate type 01) of a population member."""
    return f"QR{psn_no}"


def _person(psn_no: str, insutype: str, admdvs: str, balc: int | None) -> dict[str, Any]:
    person: dict[str, Any] = {"psn_no": psn_no, "psn_name": f"负载{psn_no[-6:]}", "insutype": insutype,
                              "insuplc_admdvs": admdvs, "certs": {"01": cert_of(psn_no), "02": f"ID{psn_no}"}}
    if balc is not None:
        person["balc"] = format_fen(balc)
    return person


def _dump(obj: Any) -> bytes:
    # The roomiest encoding a client might use (spaces after separators, Chinese as \uXXXX), so a
    # chunk stays under the limit however it is sent.
    return json.dumps(obj).encode()


def build_population(people: int, families: int, prefix: str = "LD") -> Population:
    """``people`` in all, ``families`` of them families (half Dongying, half Zibo), the rest single savers.

    Family sizes cycle through 2..5 people, all kept smaller alike when there are too few people for that.
    """
    if families < 0 or people < 0:
        raise ValueError("--people and --families must not be negative")
    if families * 2 > people:
        raise ValueError(f"{families} families need at least {families * 2} people "
                         "(a holder and a relative each)")
    targets = [1 + i % MAX_RELATIVES for i in range(families)]
    cycle = [1] * families
    spare = min(people - families, sum(targets)) - families
    for size in range(2, MAX_RELATIVES + 1):  # too few people for the whole mix: grow families evenly
        for i in range(families):
            if spare and targets[i] >= size:
                cycle[i] += 1
                spare -= 1
    dongying: list[Family] = []
    zibo: list[Family] = []
    for i, relatives in enumerate(cycle):
        admdvs = DONGYING if i % 2 == 0 else ZIBO
        holder = f"{prefix}H{i:07d}"
        family = Family(admdvs, holder, tuple(f"{prefix}R{i:07d}{j}" for j in range(relatives)))
        (dongying if admdvs == DONGYING else zibo).append(family)
    singles = tuple(f"{prefix}S{i:07d}" for i in range(people - families - sum(cycle)))
    return Population(prefix, singles, tuple(dongying), tuple(zibo))
