"""A tiny independent model of the money, written from the protocol's settlement rules, not from the core.

Given balances, bindings and caps, it says what a settlement should pay from each source; tests
replay what the switch acknowledged through it and compare every fen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["MoneyModel", "Paid"]


@dataclass(frozen=True)
class Paid:
    fund: int
    acct: int
    mulaid: int
    cash: int
    holder: str | None


@dataclass
class MoneyModel:
    balances: dict[str, int] = field(default_factory=dict)  # fen; only employees (310) have accounts
    employees: set[str] = field(default_factory=set)
    holder_of: dict[str, str] = field(default_factory=dict)  # relative -> holder
    cap: dict[str, int | None] = field(default_factory=dict)  # relative -> cap
    used: dict[str, int] = field(default_factory=dict)  # relative -> fen pooled so far

    def person(self, psn_no: str, balance: int = 0, employee: bool = True) -> None:
        self.balances[psn_no] = balance if employee else 0
        if employee:
            self.employees.add(psn_no)

    def bind(self, holder: str, relative: str, cap: int | None = None) -> None:
        self.holder_of[relative] = holder
        self.cap[relative] = cap
        self.used.setdefault(relative, 0)

    def pool_available(self, patient: str) -> tuple[str, int] | None:
        """(holder, fen the holder may pay now) when pooling is usable for this patient."""
        holder = self.holder_of.get(patient)
        if holder is None or self.balances[holder] <= 0:
            return None
        available = self.balances[holder]
        cap = self.cap.get(patient)
        if cap is not None:
            available = min(available, cap - self.used[patient])
        return (holder, available) if available > 0 else None

    def quote(self, patient: str, fee: int, fund_ratio: str = "0", use_account: bool = True) -> Paid:
        """What a settlement of ``fee`` fen should pay, without changing anything."""
        fund = int((Decimal(fee) * Decimal(fund_ratio)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        personal = fee - fund
        if not use_account:
            return Paid(fund, 0, 0, personal, None)
        acct = min(personal, self.balances[patient]) if patient in self.employees else 0
        short = personal - acct
        pool = self.pool_available(patient)
        mulaid = min(short, pool[1]) if pool is not None and short > 0 else 0
        return Paid(fund, acct, mulaid, personal - acct - mulaid, pool[0] if pool is not None and mulaid else None)

    def needs_pooling(self, patient: str, fee: int, fund_ratio: str = "0") -> bool:
        return self.quote(patient, fee, fund_ratio).mulaid > 0

    def settle(self, patient: str, paid: Paid) -> None:
        self.balances[patient] -= paid.acct
        if paid.holder is not None:
            self.balances[paid.holder] -= paid.mulaid
            self.used[patient] += paid.mulaid

    def refund(self, patient: str, paid: Paid) -> None:
        self.balances[patient] += paid.acct
        if paid.holder is not None:
            self.balances[paid.holder] += paid.mulaid
            self.used[patient] -= paid.mulaid

    def credit(self, psn_no: str, fen: int) -> None:
        self.balances[psn_no] += fen
