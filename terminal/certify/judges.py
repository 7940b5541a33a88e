"""The rules a till is judged by, each a function of what the switch heard during the case.

A judge returns a ``Verdict``: pass, fail (naming what broke the rule) or n/a, with the ids of the
exchanges that prove it. Judges read the till's own traffic only; the switch's answers tell what
moved, so no judge needs to ask the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from terminal.certify.population import by_psn
from terminal.certify.traffic import SETTLING, Exchange, fen, settlement_data
from terminal.clients.pace import parse_switch_time

__all__ = ["Verdict", "Watched"]

CARD_READ_RULE = "1101 reads the patient's certificate before the sale is pre-settled or settled"
CANCEL_RULE = "a cancel (2103/2208) names the setl_id the settlement answered, and the patient's psn_no"
SWIPE_AGAIN_RULE = ("after POOLING_AVAILABLE the swipe again comes inside the window, with the patient's own "
                    "certificate (the card cannot be shared) and a new msgid")
UNANSWERED_RULE = ("a settlement left without answer is followed by the same msgid again or a 2601 of it, never "
                   "by a new settlement of the sale first, and is not left unresolved")
DUPLICATE_RULE = "a second copy of an answer prints no second receipt"
CLINIC_RULE = ("2201 registers the visit, 2204 uploads the batch, and 2206/2207 settle that mdtrt_id and "
               "chrg_bchno for the batch's total")
RECONCILE_RULE = ("the night's 3201 balances: the till's totals equal the platform's, acct_pay counting the "
                  "pooled acct_mulaid_pay")
MSGID_RULE = ("each msgid names one request (a resend repeats it byte for byte); over the national door it is "
              "fixmedins_code + yyyyMMddHHmmss + a 4-digit sequence")


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str  # pass | fail | n/a
    detail: str
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Watched:
    """What a judge sees: the case's exchanges, the run's so far, and the driver's answers."""

    door: str
    fixmedins_code: str
    exchanges: Sequence[Exchange]
    run: Sequence[Exchange] = ()
    answers: dict[str, Any] = field(default_factory=dict)

    def of(self, *infnos: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.infno in infnos]


def _ok(detail: str, *shown: Exchange | None) -> Verdict:
    return Verdict("pass", detail, _ids(shown))


def _fail(detail: str, *shown: Exchange | None) -> Verdict:
    return Verdict("fail", detail, _ids(shown))


def _ids(shown: Iterable[Exchange | None]) -> tuple[int, ...]:
    return tuple(e.id for e in shown if e is not None)


def _own_certs(psn_no: str) -> set[str]:
    try:
        person = by_psn(psn_no)
    except StopIteration:
        return set()
    return {person.qr, person.card}


def card_read(w: Watched) -> Verdict:
    settling = w.of(*SETTLING)
    if not settling:
        return _fail("no pre-settlement or settlement was sent")
    first = settling[0]
    cert = settlement_data(first).get("mdtrt_cert_no")
    reads = [e for e in w.exchanges if e.infno == "1101" and e.received <= first.received and e.id != first.id]
    if not reads:
        return _fail(f"{first.infno} {first.msgid} was sent without reading the card (no 1101 before it)", first)
    read = reads[-1]
    if read.input.get("mdtrt_cert_no") != cert:
        return _fail(f"the 1101 read certificate {read.input.get('mdtrt_cert_no')!r}, the sale used {cert!r}",
                     read, first)
    if read.code != "OK":
        return _fail(f"the 1101 was answered {read.code}, and the till settled anyway", read, first)
    return _ok(f"1101 {read.msgid} read {cert} before {first.infno} {first.msgid}", read, first)


def _settled(w: Watched) -> list[Exchange]:
    return [e for e in w.of("2102", "2207") if e.code == "OK" and e.setlinfo.get("setl_id")]


def cancel(w: Watched) -> Verdict:
    settled = _settled(w)
    if not settled:
        return _fail("no settlement was answered OK, so there was nothing to cancel")
    sale = settled[-1]
    setl_id = sale.setlinfo["setl_id"]
    cancels = [e for e in w.of("2103", "2208") if e.received >= sale.received]
    if not cancels:
        return _fail(f"no cancel (2103/2208) followed settlement {setl_id}", sale)
    undo = cancels[0]
    named = undo.input.get("setl_id")
    if named != setl_id:
        return _fail(f"the cancel named setl_id {named!r}; the settlement answered {setl_id!r}", sale, undo)
    patient = settlement_data(sale).get("psn_no")
    if undo.input.get("psn_no") != patient:
        return _fail(f"the cancel named psn_no {undo.input.get('psn_no')!r}; the sale was {patient!r}'s", sale, undo)
    if undo.code != "OK":
        return _fail(f"the cancel of {setl_id} was answered {undo.code}: {(undo.response or {}).get('err_msg')}",
                     sale, undo)
    return _ok(f"{undo.infno} {undo.msgid} cancelled {setl_id}, the id its settlement answered", sale, undo)


def _expires(decline: Exchange) -> datetime | None:
    text = decline.output.get("window_expires_at")
    return parse_switch_time(str(text)) if text else None


def swipe_again(w: Watched) -> Verdict:
    declines = [e for e in w.of("2102", "2207") if e.code == "POOLING_AVAILABLE"]
    if not declines:
        return _fail("no settlement was declined with POOLING_AVAILABLE: the case's sale never reached the prompt")
    decline = declines[0]
    patient = str(settlement_data(decline).get("psn_no"))
    later = [e for e in w.of("1101", *SETTLING) if e.received > decline.received]
    for e in later:  # the card read again counts: a shared card shows there first
        used = e.input.get("mdtrt_cert_no") if e.infno == "1101" else settlement_data(e).get("mdtrt_cert_no")
        if used not in _own_certs(patient):
            return _fail(f"the swipe again ({e.infno} {e.msgid}) used certificate {used!r}, not {patient}'s own: "
                         f"the card cannot be shared (it was answered {e.code})", decline, e)
    again = [e for e in later if e.infno in SETTLING]
    if not again:
        return _fail(f"after POOLING_AVAILABLE on {decline.msgid} the till never swiped again", decline)
    cert = settlement_data(again[0]).get("mdtrt_cert_no")
    settles = [e for e in again if e.infno in ("2102", "2207")]
    if not settles:
        return _fail("the swipe again was pre-settled but never settled", decline, again[0])
    settle = settles[0]
    if settle.msgid == decline.msgid:
        return _fail(f"the swipe again reused the declined msgid {decline.msgid}: it replays the decline",
                     decline, settle)
    ends, at = _expires(decline), settle.switch_time
    if ends is not None and at is not None and datetime.fromisoformat(at) >= ends:
        return _fail(f"the swipe again came at {at}, after the window closed at {ends.isoformat()}", decline, settle)
    pooled = fen(settle.setlinfo.get("acct_mulaid_pay")) or 0
    if settle.code != "OK" or pooled <= 0:
        return _fail(f"the swipe again {settle.msgid} was answered {settle.code} without pooled money", decline, settle)
    return _ok(f"swiped again with {cert} under new msgid {settle.msgid} inside the window; "
               f"{settle.setlinfo.get('acct_mulaid_pay')} pooled", decline, settle)


def unanswered(w: Watched, fault: str = "answer withheld") -> Verdict:
    """A settlement whose answer the till did not get in time; ``fault`` says what the switch did with it."""
    sales = w.of("2102")
    if not sales:
        return _fail("no settlement (2102) was sent")
    lost = sales[0]  # the fault was armed for the first settlement of the case
    after = [e for e in w.exchanges if e.received > lost.received and e.infno in ("2102", "2601")]
    if not after:
        return _fail(f"settlement {lost.msgid} was committed on the switch ({lost.code or 'answer dropped'}) but "
                     f"never resent nor reversed: money taken, no receipt", lost)
    nxt = after[0]
    if nxt.infno == "2102" and nxt.msgid != lost.msgid:
        return _fail(f"a new settlement {nxt.msgid} was sent for the sale before {lost.msgid} was resolved: "
                     f"the patient is charged twice", lost, nxt)
    if nxt.infno == "2601" and nxt.input.get("omsgid") != lost.msgid:
        return _fail(f"the 2601 {nxt.msgid} reversed {nxt.input.get('omsgid')!r}, not {lost.msgid}", lost, nxt)
    if nxt.code != "OK":
        return _fail(f"the {nxt.infno} {nxt.msgid} that resolves {lost.msgid} was answered {nxt.code}", lost, nxt)
    how = "resent under the same msgid" if nxt.infno == "2102" else f"reversed by 2601 {nxt.msgid}"
    return _ok(f"settlement {lost.msgid} ({fault}) was {how}", lost, nxt)


def duplicate(w: Watched) -> Verdict:
    if w.door != "mqtt":
        return Verdict("n/a", "an HTTP answer pairs with its request: a duplicate cannot reach the till")
    doubled = [e for e in w.of("2102") if e.answers >= 2]
    if not doubled:
        return _fail("no settlement got the duplicated answer (was one sent?)")
    receipts = w.answers.get("receipts")
    if not isinstance(receipts, int) or isinstance(receipts, bool):
        return _fail(f"the till did not report how many receipts it printed (receipts: {receipts!r})", *doubled)
    if receipts != 1:
        return _fail(f"{receipts} receipts were printed for one settlement answered twice", *doubled)
    return _ok(f"settlement {doubled[0].msgid} was answered twice and printed one receipt", *doubled)


def _batches(uploads: Sequence[Exchange], mdtrt_id: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for e in uploads:
        for line in e.input.get("feedetail") or []:
            if isinstance(line, dict) and line.get("mdtrt_id") == mdtrt_id:
                key = str(line.get("chrg_bchno"))
                totals[key] = totals.get(key, 0) + (fen(line.get("det_item_fee_sumamt")) or 0)
    return totals


def clinic_chain(w: Watched) -> Verdict:
    registered = [e for e in w.of("2201") if e.code == "OK"]
    if not registered:
        return _fail("no visit was registered (2201 answered OK)")
    visit = registered[0]
    mdtrt_id = str(((visit.output.get("data") or {}) if isinstance(visit.output.get("data"), dict) else {})
                   .get("mdtrt_id"))
    uploads = [e for e in w.of("2204") if e.received > visit.received and e.code == "OK"]
    batches = _batches(uploads, mdtrt_id)
    if not batches:
        return _fail(f"no fee batch of visit {mdtrt_id} was uploaded (2204) after 2201", visit)
    settles = [e for e in w.of("2206", "2207") if e.received > visit.received]
    for e in settles:
        data = settlement_data(e)
        if data.get("mdtrt_id") != mdtrt_id:
            return _fail(f"{e.infno} {e.msgid} named mdtrt_id {data.get('mdtrt_id')!r}, not the visit {mdtrt_id}",
                         visit, *uploads, e)
        batch = str(data.get("chrg_bchno"))
        if batch not in batches:
            return _fail(f"{e.infno} {e.msgid} named chrg_bchno {batch!r}, not an uploaded batch", visit, *uploads, e)
        if fen(data.get("medfee_sumamt")) != batches[batch]:
            return _fail(f"{e.infno} {e.msgid} asked {data.get('medfee_sumamt')} for batch {batch}, whose lines "
                         f"total {batches[batch] / 100:.2f}", visit, *uploads, e)
        if e.code != "OK":
            return _fail(f"{e.infno} {e.msgid} was answered {e.code}", visit, *uploads, e)
    if not any(e.infno == "2207" for e in settles):
        return _fail(f"visit {mdtrt_id} was never settled (2207)", visit, *uploads)
    return _ok(f"2201 → 2204 → {'/'.join(e.infno or '' for e in settles)} on visit {mdtrt_id}, totals matching",
               visit, *uploads, *settles)


def reconcile(w: Watched) -> Verdict:
    pooled = [e for e in _settled(w) if (fen(e.setlinfo.get("acct_mulaid_pay")) or 0) > 0]
    nights = w.of("3201")
    if not nights:
        return _fail("no reconciliation (3201) was sent", *pooled)
    bad = [e for e in nights if e.code != "OK" or str((e.output.get("stmtinfo") or {}).get("stmt_rslt")) != "0"]
    if bad:
        info = bad[0].output.get("stmtinfo") or {}
        why = info.get("stmt_rslt_dscr") or f"answered {bad[0].code}: {(bad[0].response or {}).get('err_msg')}"
        return _fail(f"3201 did not balance: {why}", *pooled, *bad)
    if not pooled:
        return _fail("the day had no pooled settlement: the sale to the Zibo relative did not settle", *nights)
    return _ok(f"3201 balanced with {len(pooled)} pooled settlement(s) in the day", *pooled, *nights)


_SHAPE = re.compile(r"(?P<time>[0-9]{14})(?P<seq>[0-9]{4})")


def _shape_problem(msgid: str, fixmedins_code: str) -> str | None:
    if not msgid.startswith(fixmedins_code):
        return f"msgid {msgid!r} does not start with fixmedins_code {fixmedins_code}"
    match = _SHAPE.fullmatch(msgid[len(fixmedins_code):])
    if match is None:
        return f"msgid {msgid!r} is not {fixmedins_code} + yyyyMMddHHmmss + 4 digits"
    try:
        datetime.strptime(match["time"], "%Y%m%d%H%M%S")
    except ValueError:
        return f"msgid {msgid!r} carries an impossible time {match['time']}"
    return None


def msgids(w: Watched) -> Verdict:
    seen: dict[str, Exchange] = {}
    for e in w.run:
        if e.msgid is None:
            return _fail("a request without a usable msgid", e)
        first = seen.setdefault(e.msgid, e)
        if first is not e and (first.infno, first.input) != (e.infno, e.input):
            return _fail(f"msgid {e.msgid} named two different requests ({first.infno} and {e.infno})", first, e)
        if e.code == "DUPLICATE_MSGID":
            return _fail(f"msgid {e.msgid} was answered DUPLICATE_MSGID", e)
        problem = _shape_problem(e.msgid, w.fixmedins_code) if w.door == "http" else None
        if problem is not None:
            return _fail(problem, e)
    shape = "platform-shaped" if w.door == "http" else "free-form on the v1 door"
    return _ok(f"{len(seen)} msgids over {len(w.run)} requests of the run, each one request, {shape}",
               *list(w.exchanges)[:3])
