"""Families the tests load with admin.load: a Dongying family (retry window) and a Zibo one (automatic)."""

from __future__ import annotations

from typing import Any

__all__ = ["DONGYING", "ZIBO", "cert", "person", "pharmacy_input"]


def person(psn_no: str, admdvs: str, balc: str | None = None, insutype: str = "310", name: str | None = None,
           status: str = "active") -> dict[str, Any]:
    p: dict[str, Any] = {"psn_no": psn_no, "psn_name": name or f"测试{psn_no}", "insutype": insutype,
                         "insuplc_admdvs": admdvs, "status": status,
                         "certs": {"01": cert(psn_no), "02": f"ID{psn_no}", "03": f"SS{psn_no}"}}
    if balc is not None:
        p["balc"] = balc
    return p


def cert(psn_no: str) -> str:
    return f"QR{psn_no}"


# 东营: holder DH with 500.00; DR (resident child, no account); DE (employee spouse with 30.00).
DONGYING: dict[str, Any] = {
    "people": [person("DH", "370500", "500.00"), person("DR", "370500", insutype="390"),
               person("DE", "370500", "30.00")],
    "bindings": [{"holder_psn_no": "DH", "relative_psn_no": "DR", "rltn": "child"},
                 {"holder_psn_no": "DH", "relative_psn_no": "DE", "rltn": "spouse"}],
}

# 淄博: holder ZH with 200.00; ZR (resident parent).
ZIBO: dict[str, Any] = {
    "people": [person("ZH", "370300", "200.00"), person("ZR", "370300", insutype="390")],
    "bindings": [{"holder_psn_no": "ZH", "relative_psn_no": "ZR", "rltn": "parent"}],
}


def pharmacy_input(psn_no: str, amount: str | int, flag: str = "1", **extra: Any) -> dict[str, Any]:
    return {"druginfo": {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert(psn_no),
                         "medfee_sumamt": amount, "acct_used_flag": flag, **extra}}
