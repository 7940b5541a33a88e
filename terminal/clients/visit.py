"""A clinic till's visit before it settles: register (2201), the visit's details (2203), the fee lines (2204).

Real clinic software never settles out of nowhere: it registers the visit, uploads what was done and
charged as one charge batch, and then pre-settles and settles that batch (``mdtrt_id`` and
``chrg_bchno`` in 2206/2207). A swipe again after a pooling prompt settles the same batch: it is
still unpaid, so the visit is opened once per checkout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["BATCH", "OpenVisit", "fee_lines", "open_visit"]

BATCH = "B01"  # one charge batch per visit: the till settles what it uploaded
Request = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class OpenVisit:
    """The registered visit and its uploaded batch, what 2206/2207 then name."""

    mdtrt_id: str
    chrg_bchno: str = BATCH


def fee_lines(mdtrt_id: str, psn_no: str, amount: str | Decimal,
              details: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The 2204 lines: the checkout's items, or one consultation line of the whole amount."""
    items = details or [{"med_list_codg": "001101000010000-110200001", "cnt": 1, "pric": str(amount),
                         "det_item_fee_sumamt": str(amount)}]
    return [{"feedetl_sn": f"{n:04d}", "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": BATCH,
             "med_list_codg": item["med_list_codg"], "medins_list_codg": item.get("medins_list_codg", ""),
             "det_item_fee_sumamt": str(item["det_item_fee_sumamt"]), "cnt": item["cnt"],
             "pric": str(item["pric"])} for n, item in enumerate(items, start=1)]


async def open_visit(request: Request, terminal_id: str, psn_no: str, cert_type: str, cert_no: str,
                     amount: str | Decimal, details: list[dict[str, Any]] | None) -> OpenVisit | dict[str, Any]:
    """2201, 2203 and 2204 through ``request``; the open visit, or the answer that refused it."""
    registered = await request("2201", {"data": {
        "psn_no": psn_no, "mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no,
        "ipt_otp_no": f"OP-{terminal_id}-{psn_no}", "dept_code": "03", "dept_name": "内科"}})
    if registered.get("code") != "OK":
        return registered
    mdtrt_id = str(registered["output"]["data"]["mdtrt_id"])
    details_answer = await request("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11"}})
    if details_answer.get("code") != "OK":
        return details_answer
    uploaded = await request("2204", {"feedetail": fee_lines(mdtrt_id, psn_no, amount, details)})
    if uploaded.get("code") != "OK":
        return uploaded
    return OpenVisit(mdtrt_id)
