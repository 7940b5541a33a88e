"""The test population a conformance run loads, and the cards the cashier is handed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BINDINGS", "PEOPLE", "Person", "by_psn", "load_input"]


@dataclass(frozen=True, slots=True)
class Person:
    """One insured person of the run: who, where insured, the balance each case starts from, the cards."""

    psn_no: str
    name: str
    admdvs: str
    balc: str
    qr: str  # the medical-insurance e-certificate's QR token (mdtrt_cert_type 01)
    card: str  # the social-security card number (mdtrt_cert_type 03)
    role: str  # what the cashier uses this person for

    def load(self) -> dict[str, Any]:
        return {"psn_no": self.psn_no, "psn_name": self.name, "insutype": "310", "insuplc_admdvs": self.admdvs,
                "status": "active", "balc": self.balc, "certs": {"01": self.qr, "03": self.card}}


PEOPLE: tuple[Person, ...] = (
    Person("CZ0001", "张伟", "370500", "1000.00", "QRCZ0001ZHANGWEI", "370500000001",
           "ordinary sales: enough on his own account"),
    Person("CZ0002", "王小明", "370500", "20.00", "QRCZ0002WANGXM", "370500000002",
           "Dongying relative: 20.00 of his own, the rest pooled after a swipe again"),
    Person("CZ0003", "王大明", "370500", "2000.00", "QRCZ0003WANGDM", "370500000003",
           "王小明's holder (parent): pays the pooled part; his card is NOT for 王小明's sales"),
    Person("CZ0004", "赵丽", "370300", "10.00", "QRCZ0004ZHAOLI", "370300000004",
           "Zibo relative: pooled at once (automatic), for the night's reconciliation"),
    Person("CZ0005", "赵强", "370300", "2000.00", "QRCZ0005ZHAOQ", "370300000005", "赵丽's holder (spouse)"),
    Person("CZ0006", "李娜", "370500", "500.00", "QRCZ0006LINA", "370500000006", "the clinic's outpatient visit"),
)
BINDINGS: tuple[dict[str, str], ...] = (
    {"holder_psn_no": "CZ0003", "relative_psn_no": "CZ0002", "rltn": "child"},
    {"holder_psn_no": "CZ0005", "relative_psn_no": "CZ0004", "rltn": "spouse"},
)


def by_psn(psn_no: str) -> Person:
    return next(p for p in PEOPLE if p.psn_no == psn_no)


def load_input(bindings: bool) -> dict[str, Any]:
    """``admin.load``'s input: everyone at their starting balance (and the bindings, the first time)."""
    return {"people": [p.load() for p in PEOPLE], "bindings": [dict(b) for b in BINDINGS] if bindings else []}
