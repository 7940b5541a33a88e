"""The cases of a conformance run: what the cashier is asked to do, the fault armed for it, and its rule.

Each case is a short story on its own day of the switch's virtual clock (so the night's 3201 sees
that day's sales alone), with everyone's balance loaded afresh. Its judge reads only the till's
traffic during the case (and, for msgids, the whole run) and the driver's answers to its questions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from terminal.certify import judges
from terminal.certify.judges import Verdict, Watched
from terminal.certify.population import by_psn

__all__ = ["Case", "Verdict", "Watched", "all_cases"]


@dataclass(frozen=True, slots=True)
class Case:
    """One case: its instruction to the till, what is armed, and how it is judged."""

    id: str
    title: str
    required: bool
    rule: str
    fix: str
    steps: tuple[dict[str, Any], ...]
    judge: Callable[[Watched], Verdict]
    faults: tuple[dict[str, Any], ...] = ()
    asks: tuple[str, ...] = ()  # questions for the cashier: "receipts"
    doors: tuple[str, ...] = ("mqtt", "http")
    late: float = 0.0  # real seconds after the till is done in which a late answer still goes out
    why_not: str = ""  # why the case does not apply on the other door
    notes: dict[str, Any] = field(default_factory=dict)

    def prompt(self) -> str:
        """The instruction for a cashier, in one paragraph."""
        return "; then ".join(_say(step) for step in self.steps)

    def instruction(self, date: str) -> dict[str, Any]:
        """The JSON line a driver gets for this case."""
        steps = [{**step, "date": date} if step["do"] == "reconcile" else dict(step) for step in self.steps]
        return {"type": "case", "case": self.id, "title": self.title, "prompt": self.prompt(), "steps": steps,
                "asks": list(self.asks), "expect": self.notes.get("expect")}


def _sell(psn_no: str, amount: str, **more: Any) -> dict[str, Any]:
    person = by_psn(psn_no)
    return {"do": "sell", "kind": "pharmacy", "psn_no": psn_no, "psn_name": person.name, "amount": amount,
            "card": {"mdtrt_cert_type": "01", "mdtrt_cert_no": person.qr}, **more}


def _say(step: dict[str, Any]) -> str:
    if step["do"] == "cancel":
        return "cancel that sale at the till"
    if step["do"] == "reconcile":
        return "reconcile the day's totals with the platform (3201, the night's 对总账)"
    card = step["card"]["mdtrt_cert_no"]
    where = "as a clinic visit (register, upload the fees, settle)" if step["kind"] == "clinic" else ""
    text = f"sell {step['amount']} to {step['psn_name']} with their own card (QR {card}) {where}".rstrip()
    if step.get("swipe_again"):
        text += "; at the family-pooling prompt, swipe again with the same card"
    return text


def _fault(action: str, **more: Any) -> dict[str, Any]:
    return {"match": {"infno": "2102"}, "action": action, "times": 1, **more}


def all_cases(late_after: float) -> list[Case]:
    """Every case, in the order a run plays them; ``late_after`` is when a late answer comes (seconds)."""
    late_ms = int(late_after * 1000)
    return [
        Case("card-read", "card read before settling", True, judges.CARD_READ_RULE,
             "read the card with 1101 at every sale and settle the person it names, with that certificate",
             (_sell("CZ0001", "30.00"),), judges.card_read),
        Case("cancel", "a cancel names the returned setl_id", True, judges.CANCEL_RULE,
             "keep the setl_id of the settlement's answer on the receipt and cancel with it",
             (_sell("CZ0001", "40.00"), {"do": "cancel"}), judges.cancel),
        Case("swipe-again", "the swipe again after POOLING_AVAILABLE", True, judges.SWIPE_AGAIN_RULE,
             "after POOLING_AVAILABLE swipe the patient's own card again within the window, under a new msgid",
             (_sell("CZ0002", "80.00", swipe_again=True),), judges.swipe_again),
        Case("dropped-answer", "a dropped answer is resent or reversed", True, judges.UNANSWERED_RULE,
             "on a settlement without answer, send the same msgid again or a 2601 of it; never a new msgid",
             (_sell("CZ0001", "45.00"),), judges.unanswered, faults=(_fault("drop_response"),),
             notes={"expect": "the switch settles and drops its answer"}),
        Case("late-answer", "a late answer after the till gave up is reconciled", True, judges.UNANSWERED_RULE,
             "when the till gives up waiting, reverse the settlement (2601 of its msgid) or resend the same msgid",
             (_sell("CZ0001", "55.00"),),
             functools.partial(judges.unanswered, fault=f"answer sent {late_after:g} s late"),
             faults=(_fault("delay_response", delay_ms=late_ms),), late=late_after,
             notes={"expect": f"the switch answers the settlement {late_after:g} s late"}),
        Case("duplicate-answer", "a duplicate answer prints one receipt", False, judges.DUPLICATE_RULE,
             "match answers to requests by msgid and print a receipt once per settlement",
             (_sell("CZ0001", "60.00"),), judges.duplicate, faults=(_fault("duplicate_response", delay_ms=200),),
             asks=("receipts",), doors=("mqtt",), late=0.4,
             why_not="an HTTP answer pairs with its request: a second copy cannot reach the till",
             notes={"expect": "the switch sends the settlement's answer twice"}),
        Case("clinic-chain", "the clinic chain 2201 → 2204 → 2206/2207", True, judges.CLINIC_RULE,
             "register the visit (2201), upload the batch (2204), then settle that mdtrt_id and chrg_bchno "
             "for the batch's total", ({**_sell("CZ0006", "120.00"), "do": "visit", "kind": "clinic"},),
             judges.clinic_chain),
        Case("reconcile", "the night's 3201 balances, pooled money included", True, judges.RECONCILE_RULE,
             "count acct_mulaid_pay (the family's pooled money) in 3201's acct_pay with the patient's own",
             (_sell("CZ0004", "90.00"), _sell("CZ0001", "25.00"), {"do": "reconcile"}), judges.reconcile),
        Case("msgids", "msgids unique and platform-shaped", True, judges.MSGID_RULE,
             "draw msgids from a durable counter: fixmedins_code + yyyyMMddHHmmss + a 4-digit sequence",
             (_sell("CZ0001", "20.00"),), judges.msgids),
    ]
