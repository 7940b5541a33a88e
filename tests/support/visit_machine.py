"""The clinic's visit chain as rules of the ledger state machine (``tests/integration/test_ledger_machine.py``).

Rules: register visits, upload charge batches, settle (2206/2207) a batch with its fee or a wrong one,
withdraw batches, cancel visits, reconcile an institution's day, sign tills in (9001) and out (9002).
Cancels and reversals of the settlements they make are the machine's own rules. Invariants: a batch
is paid by at most one settlement in force, a cancelled or reversed settlement frees its batch, no
fee line is counted in two live batches of a visit, 3201 balances exactly with the ledger's own
totals, and only a live sign-in of the same institution signs out, once.

The rules read visits, batches and settlements where they are, memory or disk, and leave them there
(``peek``): with a small ``--keep`` the switch must decide on what the disk holds, not on what a
rule's own read brought back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import event
from hypothesis.stateful import invariant, precondition, rule

from switch.core.clinic import Batch, Visit
from switch.core.model import Settlement, State
from switch.core.money import format_fen
from switch.core.platform import CHINA
from switch.service.clock import VirtualClock
from tests.support.families import cert

__all__ = ["VisitRules"]

BATCHES = ("B1", "B2")
CLR = {"2102": "41", "2207": "11"}
lines = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 9_000)), min_size=1, max_size=3)


class VisitRules:
    """Mixed into the ledger machine, which gives ``send``, ``state``, ``clock`` and its bookkeeping."""

    clock: VirtualClock
    visits_made: list[tuple[str, str, str]]  # (mdtrt_id, psn_no, fixmedins)
    batch_setls: dict[tuple[str, str], list[str]]  # (mdtrt_id, chrg_bchno) -> setl_ids that paid it
    fee_serial: int
    settlements: dict[str, tuple[str, str]]  # the machine's: what its cancel rule may cancel
    settle_msgids: list[tuple[str, str, str]]  # the machine's: what its reverse rule may reverse

    @property
    def state(self) -> State:
        raise NotImplementedError  # pragma: no cover - the machine's

    def send(self, channel: str, sender: str, infno: str, input: dict[str, Any], msgid: str | None = None,
             fixmedins: str = "F1", invalid: bool = False) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - the machine's

    def msgid(self) -> str:
        raise NotImplementedError  # pragma: no cover - the machine's

    def setl(self, setl_id: str) -> Settlement:
        raise NotImplementedError  # pragma: no cover - the machine's

    def pooled_window_bookkeeping(self, patient: str, fixmedins: str, answer: dict[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover - the machine's

    def _visit(self, mdtrt_id: str) -> Visit:
        chain = self.state.visits.peek(mdtrt_id)
        assert chain is not None, mdtrt_id
        return chain[0]

    def _batches(self, mdtrt_id: str) -> dict[str, Batch]:
        chain = self.state.visits.peek(mdtrt_id)
        assert chain is not None, mdtrt_id
        return {b.chrg_bchno: b for b in chain[1]}

    def _paid(self, batch: Batch | None) -> bool:
        """Whether ``batch`` is paid by a settlement in force (``batch_in_force``, read without bringing it back)."""
        return batch is not None and batch.setl_id is not None and self.setl(batch.setl_id).status == "settled"

    def _noted(self, mdtrt_id: str) -> None:
        if not self.state.visits.holds(mdtrt_id):
            event("a visit only the file holds")

    def _visits(self) -> list[tuple[str, str, str]]:
        if not hasattr(self, "visits_made"):
            self.visits_made, self.batch_setls, self.fee_serial = [], {}, 0
        return self.visits_made

    def _pick(self, data: st.DataObject, batch: str | None = None) -> tuple[str, str, str]:
        """A visit, mostly an open one (with ``batch`` uploaded, when named): the chain goes on more than it stops."""
        visits = self._visits()
        good = [v for v in visits if self._visit(v[0]).status == "open" and (
            batch is None or ((b := self._batches(v[0]).get(batch)) is not None and b.status == "uploaded"))]
        prefer_good = bool(good) and data.draw(st.integers(0, 3)) > 0
        return data.draw(st.sampled_from(good if prefer_good else visits))

    @rule(patient=st.sampled_from(("P1", "P2", "P3", "P4", "H1")), fixmedins=st.sampled_from(("F1", "F2")))
    def register_visit(self, patient: str, fixmedins: str) -> None:
        answer = self.send("pos", "T1", "2201", {"data": {"psn_no": patient, "mdtrt_cert_type": "01",
                                                          "mdtrt_cert_no": cert(patient), "ipt_otp_no": "OP"}},
                           fixmedins=fixmedins)
        event(f"2201 {answer['code']}")
        if answer["code"] == "OK":
            self._visits().append((answer["output"]["data"]["mdtrt_id"], patient, fixmedins))
        else:
            assert answer["code"] == "INSURANCE_SUSPENDED" and self.state.people[patient].status == "suspended"

    @precondition(lambda self: bool(getattr(self, "visits_made", None)))
    @rule(data=st.data(), batch=st.sampled_from(BATCHES), items=lines)
    def upload_batch(self, data: st.DataObject, batch: str, items: list[tuple[int, int]]) -> None:
        self._upload(self._pick(data), batch, items)

    def _upload(self, chosen: tuple[str, str, str], batch: str, items: list[tuple[int, int]]) -> None:
        mdtrt_id, patient, fixmedins = chosen
        visit, before = self._visit(mdtrt_id), self._batches(mdtrt_id).get(batch)
        self._noted(mdtrt_id)
        feedetail = []
        for cnt, pric in items:
            self.fee_serial += 1
            feedetail.append({"feedetl_sn": f"F{self.fee_serial}", "mdtrt_id": mdtrt_id, "psn_no": patient,
                              "chrg_bchno": batch, "med_list_codg": "X", "cnt": cnt, "pric": format_fen(pric),
                              "det_item_fee_sumamt": format_fen(cnt * pric)})
        answer = self.send("pos", "T1", "2204", {"feedetail": feedetail}, fixmedins=fixmedins)
        if visit.status != "open":
            assert answer["code"] == "VISIT_NOT_FOUND"
        elif self._paid(before):
            assert answer["code"] == "VISIT_SETTLED"
        else:
            assert answer["code"] == "OK"
            kept = before.total if before is not None and before.status == "uploaded" else 0
            assert self._batches(mdtrt_id)[batch].total == kept + sum(c * p for c, p in items)

    @precondition(lambda self: bool(getattr(self, "visits_made", None)))
    @rule(data=st.data(), batch=st.sampled_from(BATCHES), infno=st.sampled_from(("2207", "2207", "2206")),
          off_by=st.sampled_from((0, 0, 0, 1)), flag=st.sampled_from(("1", "1", "0")))
    def settle_batch(self, data: st.DataObject, batch: str, infno: str, off_by: int, flag: str) -> None:
        self._settle(self._pick(data, batch), batch, infno, off_by, flag)

    def _settle(self, chosen: tuple[str, str, str], batch: str, infno: str, off_by: int, flag: str) -> None:
        mdtrt_id, patient, fixmedins = chosen
        visit, found = self._visit(mdtrt_id), self._batches(mdtrt_id).get(batch)
        self._noted(mdtrt_id)
        total = found.total if found is not None else 100
        paid_before = self._paid(found)
        body = {"psn_no": patient, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert(patient), "acct_used_flag": flag,
                "medfee_sumamt": format_fen(total + off_by), "mdtrt_id": mdtrt_id, "chrg_bchno": batch}
        msgid = self.msgid()
        answer = self.send("pos", "T2", infno, {"data": body}, msgid, fixmedins)
        code = answer["code"]
        event(f"visit {infno} {code}")
        if visit.status != "open":
            assert code == "VISIT_NOT_FOUND"
        elif found is None or found.status != "uploaded" or not found.items:
            assert code == "FEES_NOT_FOUND"
        elif paid_before:
            assert code == "VISIT_SETTLED", "a batch settled twice"
        elif off_by:
            assert code == "FEE_MISMATCH" and format_fen(total) in answer["err_msg"]
        else:  # a batch freed by a cancel or reversal settles again: never VISIT_SETTLED here
            assert code in ("OK", "POOLING_AVAILABLE", "INSURANCE_SUSPENDED"), answer
        if infno == "2207":
            self.pooled_window_bookkeeping(patient, fixmedins, answer)
        if code == "OK" and infno == "2207":
            info = answer["output"]["setlinfo"]
            assert info["mdtrt_id"] == mdtrt_id and self._batches(mdtrt_id)[batch].setl_id == info["setl_id"]
            self.batch_setls.setdefault((mdtrt_id, batch), []).append(info["setl_id"])
            self.settlements[info["setl_id"]] = (patient, "T2")  # so 2208 and 2601 may free the batch
        if infno == "2207":
            self.settle_msgids.append(("T2", msgid, "2207"))

    @rule(patient=st.sampled_from(("P2", "P4", "P1")), fixmedins=st.sampled_from(("F1", "F2")),
          pric=st.integers(1, 9_000))
    def whole_visit(self, patient: str, fixmedins: str, pric: int) -> None:
        """A clinic's whole chain in one step: register, upload, settle (often enough to cancel and settle again)."""
        before = len(self._visits())
        self.register_visit(patient, fixmedins)
        if len(self.visits_made) > before:
            self._upload(self.visits_made[-1], "B1", [(1, pric)])
            self._settle(self.visits_made[-1], "B1", "2207", 0, "1")

    @precondition(lambda self: bool(getattr(self, "visits_made", None)))
    @rule(data=st.data(), batch=st.sampled_from(BATCHES), whole_visit=st.sampled_from((False, False, True)))
    def withdraw(self, data: st.DataObject, batch: str, whole_visit: bool) -> None:
        mdtrt_id, patient, fixmedins = self._pick(data, batch)
        visit, mine = self._visit(mdtrt_id), self._batches(mdtrt_id)
        self._noted(mdtrt_id)
        if whole_visit:
            answer = self.send("pos", "T1", "2202", {"data": {"psn_no": patient, "mdtrt_id": mdtrt_id}},
                               fixmedins=fixmedins)
            paid = any(self._paid(b) for b in mine.values())
        else:
            answer = self.send("pos", "T1", "2205", {"data": {"psn_no": patient, "mdtrt_id": mdtrt_id,
                                                              "chrg_bchno": batch}}, fixmedins=fixmedins)
            paid = self._paid(mine.get(batch))
        event(f"withdraw {whole_visit} {answer['code']}")
        if visit.status != "open":
            assert answer["code"] == "VISIT_NOT_FOUND"
        elif paid:
            assert answer["code"] == "VISIT_SETTLED"

    @rule(fixmedins=st.sampled_from(("F1", "F2")), clr=st.sampled_from(("11", "41")))
    def reconcile(self, fixmedins: str, clr: str) -> None:
        """3201 with the ledger's own totals balances; without the pooled part it names acct_pay."""
        start, now = (self.clock.now() - timedelta(days=30)).astimezone(CHINA), self.clock.now().astimezone(CHINA)
        every = [self.setl(s) for s in self.settlements]  # every settlement made: the machine notes each one
        mine = [s for s in every if s.status == "settled" and s.fixmedins_code == fixmedins and CLR.get(s.infno) == clr]
        pooled = sum(s.mulaid for s in mine)
        figures = {"clr_type": clr, "stmt_begndate": start.date().isoformat(), "stmt_enddate": now.date().isoformat(),
                   "medfee_sumamt": format_fen(sum(s.medfee for s in mine)),
                   "fund_pay_sumamt": format_fen(sum(s.fund for s in mine)),
                   "acct_pay": format_fen(sum(s.acct + s.mulaid for s in mine)), "fixmedins_setl_cnt": len(mine)}
        answer = self.send("pos", "T1", "3201", {"data": figures}, fixmedins=fixmedins)
        assert answer["output"]["stmtinfo"]["stmt_rslt"] == "0", answer
        if pooled:
            short = {**figures, "acct_pay": format_fen(sum(s.acct for s in mine))}
            info = self.send("pos", "T1", "3201", {"data": short}, fixmedins=fixmedins)["output"]["stmtinfo"]
            assert info["stmt_rslt"] == "1" and info["stmt_rslt_dscr"].startswith("acct_pay: switch ")
            event("3201 names the pooled part left out")

    @rule(fixmedins=st.sampled_from(("F1", "F2")))
    def sign_in(self, fixmedins: str) -> None:
        answer = self.send("pos", "T1", "9001", {"signIn": {"opter_no": "OP1"}}, fixmedins=fixmedins)
        assert answer["code"] == "OK"
        self._signed()[answer["output"]["signinoutb"]["sign_no"]] = (fixmedins, self.clock.now(), None)

    @precondition(lambda self: bool(getattr(self, "signed", None)))
    @rule(data=st.data(), fixmedins=st.sampled_from(("F1", "F1", "F2")))
    def sign_out(self, data: st.DataObject, fixmedins: str) -> None:
        """9002 of any sign-in made: only a live one of the same institution ends, and only once."""
        number = data.draw(st.sampled_from(sorted(self._signed())))
        code, at, out = self._signed()[number]
        now = self.clock.now()
        if not self.state.sign_ins.holds(number):
            event("a sign-in only the file holds")
        live = code == fixmedins and out is None and at <= now and \
            at.astimezone(CHINA).date() == now.astimezone(CHINA).date()
        answer = self.send("pos", "T1", "9002", {"signOut": {"sign_no": number}}, fixmedins=fixmedins, invalid=True)
        event(f"9002 {answer['code']}")
        assert answer["code"] == ("OK" if live else "INVALID_REQUEST"), (answer, code, at, out)
        if live:
            self._signed()[number] = (code, at, now)
        found = self.state.sign_ins.peek(number)
        assert found is not None and found.signed_out_at == self._signed()[number][2]

    def _signed(self) -> dict[str, tuple[str, datetime, datetime | None]]:
        if not hasattr(self, "signed"):
            self.signed: dict[str, tuple[str, datetime, datetime | None]] = {}
        return self.signed

    @invariant()
    def a_batch_is_paid_once_and_no_fee_twice(self) -> None:
        state = getattr(self, "switch", None) and self.state
        if not state or not hasattr(self, "batch_setls"):
            return
        chains = {visit.mdtrt_id: (visit, batches) for visit, batches in state.visits.chains()}
        assert list(chains) == sorted(m for m, _, _ in self.visits_made), "admin.state's visits, oldest first"
        for (mdtrt_id, chrg_bchno), setl_ids in self.batch_setls.items():
            assert sum(self.setl(s).status == "settled" for s in setl_ids) <= 1, f"{mdtrt_id} {chrg_bchno} paid twice"
            found = {b.chrg_bchno: b for b in chains[mdtrt_id][1]}[chrg_bchno]
            in_force = [s for s in setl_ids if self.setl(s).status == "settled"]
            assert self._paid(found) == bool(in_force), f"{mdtrt_id} {chrg_bchno} not freed by its cancel"
        for mdtrt_id, (visit, batches) in chains.items():
            live = [i.feedetl_sn for b in batches if b.status == "uploaded" for i in b.items]
            assert len(live) == len(set(live)), f"a fee line counted twice in {mdtrt_id}"
            assert all(b.mdtrt_id == mdtrt_id and b.psn_no == visit.psn_no for b in batches)
            assert len({b.chrg_bchno for b in batches}) == len(batches), f"a batch twice in {mdtrt_id}"
