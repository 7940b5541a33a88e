"""A deliberately faulty till for the conformance run's tests: gongji's reference driver with one bug.

``python -m tests.support.faulty_till --bug BUG [--timeout S]``; each bug is one way real checkout
software goes wrong, and the run must fail exactly the case that bug breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from terminal.certify.population import by_psn
from terminal.certify.reference_driver import Books, Till, parser, serve
from terminal.clients.mqtt import NoAnswer
from terminal.clients.pos import Card, Checkout, Terminal
from terminal.clients.visit import OpenVisit

__all__ = ["BUGS"]

HOLDERS = {"CZ0002": "CZ0003", "CZ0004": "CZ0005"}


class NewMsgidOnResend(Terminal):
    """Resends an unanswered settlement under a new msgid: the sale is charged twice."""

    async def settle(self, body: dict[str, Any], psn_no: str) -> tuple[dict[str, Any], str, bool]:
        infno = "2207" if self.kind == "clinic" else "2102"
        msgid = self.state.next_msgid()
        while True:
            try:
                return await self._request(infno, body, msgid), msgid, False
            except NoAnswer:
                msgid = self.state.next_msgid()


class NoReversal(Terminal):
    """Gives up on an unanswered settlement and tells no one: money taken, no receipt."""

    async def settle(self, body: dict[str, Any], psn_no: str) -> tuple[dict[str, Any], str, bool]:
        infno = "2207" if self.kind == "clinic" else "2102"
        msgid = self.state.next_msgid()
        try:
            return await self._request(infno, body, msgid), msgid, False
        except NoAnswer:
            return {"code": "NO_ANSWER", "output": {}}, msgid, False


class NoCardRead(Terminal):
    """Settles without reading the card (no 1101)."""

    async def read_card(self, card: Card) -> dict[str, Any]:
        return {"code": "OK", "output": {"baseinfo": {"psn_no": card.psn_no}}}


class ClinicTotalOff(Terminal):
    """Settles a clinic batch for 1.00 more than its uploaded lines."""

    def settlement_body(self, psn_no: str, card: Card, amount: str | Decimal, use_account: bool = True,
                        details: list[dict[str, Any]] | None = None, visit: OpenVisit | None = None) -> dict[str, Any]:
        asked = Decimal(str(amount)) + 1 if visit is not None else amount
        return super().settlement_body(psn_no, card, asked, use_account, details, visit)


class BadMsgidShape(Terminal):
    """Sends msgids without the institution code in front (the platform's shape is fixmedins_code + time + seq)."""

    async def __aenter__(self) -> Terminal:
        reserve: Callable[[dict[str, Any], int], list[str]] = self.state._reserve
        cut = len(self.fixmedins_code)
        setattr(self.state, "_reserve", lambda data, n: ["TILL" + m[cut:] for m in reserve(data, n)])  # noqa: B010
        return await super().__aenter__()


class HolderCard(Till):
    """Swipes again with the holder's card: the card cannot be shared."""

    async def checkout(self, step: dict[str, Any]) -> Checkout:
        first = await self.terminal.checkout(self.card(step), step["amount"], retry_after=[])
        if not step.get("swipe_again") or first.last.prompt is None:
            return first
        holder = by_psn(HOLDERS[step["psn_no"]])
        again = await self.terminal.checkout(Card("01", holder.qr, step["psn_no"]), step["amount"], retry_after=[])
        return Checkout([*first.swipes, *again.swipes])


class PooledLeftOut(Till):
    """Reconciles acct_pay without the pooled acct_mulaid_pay."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__(terminal)
        self.books = OwnOnlyBooks()


class OwnOnlyBooks(Books):
    def personal(self, setlinfo: dict[str, Any]) -> int:
        return round(float(str(setlinfo["acct_pay"])) * 100)


class CancelByMsgid(Till):
    """Cancels with the settlement's msgid (its medins_setl_id) instead of the setl_id it answered."""

    async def checkout(self, step: dict[str, Any]) -> Checkout:
        done = await super().checkout(step)
        self.sale_msgid = str(done.last.msgid)
        return done

    async def cancel(self) -> str:
        if self.last is not None:
            self.last = (self.sale_msgid, self.last[1])
        return await super().cancel()


class ReceiptPerAnswer(Till):
    """Prints a receipt for every answer that arrives, duplicates included."""

    async def sell(self, step: dict[str, Any]) -> str:
        extra = getattr(self.terminal.client, "unmatched", None)
        while extra is not None and not extra.empty():  # an earlier sale's stray answers are not this one's
            extra.get_nowait()
        code = await super().sell(step)
        await asyncio.sleep(0.5)  # the second copy comes a moment later
        while extra is not None and not extra.empty():
            extra.get_nowait()
            self.receipts += 1
        return code


BUGS: dict[str, tuple[type[Terminal], type[Till]]] = {
    "new-msgid-on-resend": (NewMsgidOnResend, Till),
    "no-reversal": (NoReversal, Till),
    "no-card-read": (NoCardRead, Till),
    "clinic-total-off": (ClinicTotalOff, Till),
    "bad-msgid-shape": (BadMsgidShape, Till),
    "holder-card-on-swipe-again": (Terminal, HolderCard),
    "pooled-left-out-of-3201": (Terminal, PooledLeftOut),
    "cancel-by-msgid": (Terminal, CancelByMsgid),
    "receipt-per-answer": (Terminal, ReceiptPerAnswer),
}


def main(argv: list[str] | None = None) -> int:
    p: argparse.ArgumentParser = parser()
    p.add_argument("--bug", choices=sorted(BUGS), required=True)
    args = p.parse_args(argv)
    terminal, till = BUGS[args.bug]
    return asyncio.run(serve(args, terminal, till))


if __name__ == "__main__":
    sys.exit(main())
