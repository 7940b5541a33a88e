"""The clinic's visit chain in the pure core through the table: 2201-2205, 2206/2207 tied to a batch, 2208."""

from __future__ import annotations

from typing import Any

import pytest

from switch.core.clinic import Batch
from switch.core.codes import Code
from switch.core.model import PutPerson, State, apply
from tests.support.clinic import Till, fee_line, register_input, settle_input
from tests.support.families import DONGYING, ZIBO
from tests.unit.core_helpers import T0, loaded


def till() -> Till:
    return Till(loaded(ZIBO, loaded(DONGYING)), T0)


def settled_visit(t: Till, psn: str = "ZR", amount: str = "100.00") -> tuple[str, str]:
    """A visit of ``psn`` with batch B1 of ``amount`` settled by 2207; (mdtrt_id, setl_id)."""
    mdtrt_id = t.visit(psn)
    assert t.upload(mdtrt_id, psn, "B1", ("1", "1", amount)).code is Code.OK
    d = t.send("2207", settle_input(psn, amount, mdtrt_id, "B1"))
    assert d.code is Code.OK, d
    return mdtrt_id, str(d.setl_id)


def info(d: Any) -> dict[str, Any]:
    return d.output["setlinfo"]  # type: ignore[no-any-return]


def batch(t: Till, mdtrt_id: str, chrg_bchno: str) -> Batch:
    found = t.state.visits.batch(mdtrt_id, chrg_bchno)
    assert found is not None, (mdtrt_id, chrg_bchno)
    return found


def test_register_answers_a_visit_id_of_its_own() -> None:
    """2201 with the patient's own certificate answers data{mdtrt_id, psn_no, ipt_otp_no}; ids never repeat."""
    t = till()
    d = t.send("2201", register_input("ZR"))
    assert (d.code, d.output) == (Code.OK, {"data": {"mdtrt_id": "MDTRTV000000001", "psn_no": "ZR",
                                                     "ipt_otp_no": "OP-ZR"}})
    assert t.visit("ZR") == "MDTRTV000000002"


def _suspend(state: State, psn: str) -> None:
    person = state.people[psn]
    apply(state, PutPerson(type(person)(person.psn_no, person.psn_name, person.insutype, person.admdvs,
                                        "suspended", dict(person.certs))))


@pytest.mark.parametrize(("psn", "cert_no", "suspend", "code"), [
    ("ZZ", "QRZZ", False, Code.PERSON_NOT_FOUND),
    ("ZR", "QRZH", False, Code.CERT_MISMATCH),  # the holder's card: money pools, cards are not shared
    ("ZR", "QRZR", True, Code.INSURANCE_SUSPENDED),
])
def test_register_refusals(psn: str, cert_no: str, suspend: bool, code: Code) -> None:
    """2201 refuses an unknown person, a certificate not the patient's own, and suspended insurance."""
    t = till()
    if suspend:
        _suspend(t.state, psn)
    d = t.send("2201", register_input(psn, cert_no))
    assert d.code is code and d.effects == ()


def test_details_need_the_persons_open_visit() -> None:
    """2203 on the patient's visit is OK and keeps med_type; another person's or an unknown one is VISIT_NOT_FOUND."""
    t = till()
    mdtrt_id = t.visit("ZR")
    body = {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": "ZR", "med_type": "11", "dise_codg": "J00",
                          "dise_name": "感冒"}, "diseinfo": [{"diag_type": "1", "diag_code": "J00"}]}
    assert t.send("2203", body).code is Code.OK
    assert t.state.visits[mdtrt_id].med_type == "11"
    other = {"mdtrtinfo": {**body["mdtrtinfo"], "psn_no": "ZH"}}  # type: ignore[dict-item]
    assert t.send("2203", other).code is Code.VISIT_NOT_FOUND
    assert t.send("2203", {"mdtrtinfo": {"mdtrt_id": "MDTRTV999999999", "psn_no": "ZR"}}).code is Code.VISIT_NOT_FOUND
    assert t.send("2203", body, fixmedins_code="P37050000002").code is Code.VISIT_NOT_FOUND


def test_upload_prices_each_line_and_answers_it() -> None:
    """2204: cnt 0.5 x 3.33 = 1.67 half up; the answer repeats each line, all of it in scope."""
    t = till()
    mdtrt_id = t.visit("ZR")
    d = t.upload(mdtrt_id, "ZR", "B1", ("1", "0.5", "3.33"), ("2", "2", "10.00"))
    assert d.code is Code.OK
    assert d.output["result"][0] == {  # type: ignore[index]
        "feedetl_sn": "1", "det_item_fee_sumamt": "1.67", "cnt": 0.5, "pric": "3.33", "pric_uplmt_amt": "3.33",
        "selfpay_prop": "0", "fulamt_ownpay_amt": "0.00", "overlmt_amt": "0.00", "preselfpay_amt": "0.00",
        "inscp_scp_amt": "1.67", "chrgitm_lv": "01", "med_chrgitm_type": None}
    assert batch(t, mdtrt_id, "B1").total == 2167


@pytest.mark.parametrize(("lines", "loc", "words"), [
    ([("1", "2", "10.00", "20.01")], ["input", "feedetail", 0, "det_item_fee_sumamt"], "cnt 2 x pric 10.00 = 20.00"),
    ([("1", "1", "5.00", None), ("1", "1", "6.00", None)], ["input", "feedetail", 1, "feedetl_sn"],
     "already uploaded"),
])
def test_upload_refuses_a_line_naming_it(lines: list[tuple[str, str, str, str | None]], loc: list[Any],
                                         words: str) -> None:
    """2204: an amount not cnt x pric, or a feedetl_sn uploaded before, is INVALID_REQUEST naming the line."""
    t = till()
    mdtrt_id = t.visit("ZR")
    d = t.send("2204", {"feedetail": [fee_line(sn, mdtrt_id, "ZR", "B1", cnt, pric, amount)
                                      for sn, cnt, pric, amount in lines]})
    assert d.code is Code.INVALID_REQUEST and d.effects == ()
    error = d.output["errors"][0]  # type: ignore[index]
    assert error["loc"] == loc and words in error["msg"]


def test_a_line_uploaded_in_an_earlier_2204_is_refused() -> None:
    """A feedetl_sn already in the visit (another batch) is INVALID_REQUEST; withdrawn by 2205, it may come again."""
    t = till()
    mdtrt_id = t.visit("ZR")
    assert t.upload(mdtrt_id, "ZR", "B1", ("7", "1", "5.00")).code is Code.OK
    assert t.upload(mdtrt_id, "ZR", "B2", ("7", "1", "5.00")).code is Code.INVALID_REQUEST
    assert t.send("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": "ZR"}}).code is Code.OK
    assert t.upload(mdtrt_id, "ZR", "B2", ("7", "1", "5.00")).code is Code.OK


def test_settle_a_batch_carries_the_visit_and_pays_once() -> None:
    """2207 on a batch: the visit's mdtrt_id, pooling as usual; a second 2207 on it is VISIT_SETTLED."""
    t = till()
    mdtrt_id, setl_id = settled_visit(t)
    settlement = t.state.settlements[setl_id]
    assert (settlement.mdtrt_id, settlement.fund, settlement.mulaid, settlement.holder) == (mdtrt_id, 4000, 6000, "ZH")
    again = t.send("2207", settle_input("ZR", "100.00", mdtrt_id, "B1"))
    assert again.code is Code.VISIT_SETTLED and setl_id in str(again.err_msg)
    assert t.state.people["ZH"].balc == 14000  # 200.00 - 60.00, once


@pytest.mark.parametrize(("infno", "body"), [
    ("2205", {"data": {"mdtrt_id": "{m}", "chrg_bchno": "B1", "psn_no": "ZR"}}),
    ("2202", {"data": {"mdtrt_id": "{m}", "psn_no": "ZR", "ipt_otp_no": "OP-ZR"}}),
    ("2204", {"feedetail": [fee_line("9", "{m}", "ZR", "B1", "1", "1.00")]}),
])
def test_a_settled_batch_cannot_be_withdrawn_or_its_visit_cancelled(infno: str, body: dict[str, Any]) -> None:
    """Withdrawing, cancelling or adding to what a settlement in force paid is VISIT_SETTLED."""
    t = till()
    mdtrt_id, _ = settled_visit(t)
    raw = _fill(body, mdtrt_id)
    assert t.send(infno, raw).code is Code.VISIT_SETTLED


def _fill(body: Any, mdtrt_id: str) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, mdtrt_id) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, mdtrt_id) for v in body]
    return mdtrt_id if body == "{m}" else body


def test_cancelling_the_settlement_frees_the_batch() -> None:
    """2208 refunds with the visit's mdtrt_id; the batch settles again, then 2205/2202 work once that is cancelled."""
    t = till()
    mdtrt_id, setl_id = settled_visit(t)
    cancel = t.send("2208", {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": "ZR"}})
    assert (cancel.code, info(cancel)["mdtrt_id"], info(cancel)["acct_mulaid_pay"]) == (Code.OK, mdtrt_id, "-60.00")
    second = t.send("2207", settle_input("ZR", "100.00", mdtrt_id, "B1"))
    assert second.code is Code.OK and info(second)["mdtrt_id"] == mdtrt_id
    assert t.send("2208", {"data": {"setl_id": second.setl_id, "psn_no": "ZR"}}).code is Code.OK
    assert t.send("2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": "ZR"}}).code is Code.OK
    assert t.send("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": "ZR"}}).code is Code.OK
    assert t.state.visits[mdtrt_id].status == "cancelled"
    assert t.state.people["ZH"].balc == 20000


@pytest.mark.parametrize(("amount", "psn", "batch", "code", "words"), [
    ("99.00", "ZR", "B1", Code.FEE_MISMATCH, "medfee_sumamt 99.00 与批次 B1 的费用明细合计 100.00 不符"),
    ("100.00", "ZR", "B9", Code.FEES_NOT_FOUND, "B9"),
    ("100.00", "ZH", "B1", Code.VISIT_NOT_FOUND, "ZH"),
])
def test_settle_refusals_with_a_visit(amount: str, psn: str, batch: str, code: Code, words: str) -> None:
    """2206/2207 with a visit: the fee must be the batch's total, the batch uploaded, the visit the patient's."""
    t = till()
    mdtrt_id = t.visit("ZR")
    t.upload(mdtrt_id, "ZR", "B1", ("1", "1", "100.00"))
    for infno in ("2206", "2207"):
        d = t.send(infno, settle_input(psn, amount, mdtrt_id, batch))
        assert d.code is code and words in str(d.err_msg) and d.effects == ()


def test_withdrawn_batch_is_not_found() -> None:
    """A batch withdrawn by 2205 cannot be settled (FEES_NOT_FOUND) nor withdrawn again."""
    t = till()
    mdtrt_id = t.visit("ZR")
    t.upload(mdtrt_id, "ZR", "B1", ("1", "1", "100.00"))
    withdraw = {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": "ZR"}}
    assert t.send("2205", withdraw).code is Code.OK
    assert t.send("2205", withdraw).code is Code.FEES_NOT_FOUND
    assert t.send("2207", settle_input("ZR", "100.00", mdtrt_id, "B1")).code is Code.FEES_NOT_FOUND


def test_a_foreign_certificate_with_a_visit_is_a_warning_not_a_refusal() -> None:
    """With mdtrt_id the visit's patient is the patient: a certificate not theirs settles, noted in warn_msg."""
    t = till()
    mdtrt_id = t.visit("ZR")
    t.upload(mdtrt_id, "ZR", "B1", ("1", "1", "100.00"))
    pre = t.send("2206", settle_input("ZR", "100.00", mdtrt_id, "B1", cert_no="01"))
    assert pre.code is Code.OK and "visit " + mdtrt_id in pre.output["warn_msg"]  # type: ignore[index]
    assert info(pre)["mdtrt_id"] == mdtrt_id and "setl_id" not in info(pre)
    d = t.send("2207", settle_input("ZR", "100.00", mdtrt_id, "B1", cert_no="QRZH"))
    assert d.code is Code.OK and "warn_msg" in d.output  # type: ignore[operator]
    own = Till(loaded(ZIBO), T0)
    m2 = own.visit("ZR")
    own.upload(m2, "ZR", "B1", ("1", "1", "100.00"))
    assert "warn_msg" not in own.send("2207", settle_input("ZR", "100.00", m2, "B1")).output  # type: ignore[operator]


def test_the_retry_window_is_unchanged_by_a_visit() -> None:
    """Dongying: a visit's first 2207 declines (POOLING_AVAILABLE, batch unpaid); the retry pools and pays the batch."""
    t = till()
    mdtrt_id = t.visit("DE")
    t.upload(mdtrt_id, "DE", "B1", ("1", "1", "80.00"))
    first = t.send("2207", settle_input("DE", "80.00", mdtrt_id, "B1"))
    assert first.code is Code.POOLING_AVAILABLE and batch(t, mdtrt_id, "B1").setl_id is None
    second = t.send("2207", settle_input("DE", "80.00", mdtrt_id, "B1"))
    assert (second.code, info(second)["acct_pay"], info(second)["acct_mulaid_pay"]) == (Code.OK, "30.00", "10.00")
    assert batch(t, mdtrt_id, "B1").setl_id == second.setl_id


def test_without_a_visit_2207_is_v1_with_a_derived_mdtrt_id() -> None:
    """No mdtrt_id: the switch creates the visit (MDTRT + the setl_id's digits), certificate checked as before."""
    t = till()
    d = t.send("2207", settle_input("ZR", "10.00"))
    assert (d.code, info(d)["mdtrt_id"]) == (Code.OK, "MDTRT0000000001")
    assert t.send("2207", settle_input("ZR", "10.00", cert_no="QRZH")).code is Code.CERT_MISMATCH
    missing = t.send("2207", settle_input("ZR", "10.00", mdtrt_id="MDTRTV000000001"))
    assert missing.code is Code.INVALID_REQUEST
    assert missing.output["errors"][0]["loc"] == ["input", "data", "chrg_bchno"]  # type: ignore[index]


def test_admin_state_shows_visits_and_batches() -> None:
    """admin.state lists each visit and batch, a paid batch as settled with its setl_id."""
    from switch.core import admin as admin_core
    t = till()
    mdtrt_id, setl_id = settled_visit(t)
    out = admin_core.state_view(t.state, "ZR", T0).output
    assert out["visits"][0]["mdtrt_id"] == mdtrt_id  # type: ignore[index]
    assert out["batches"] == [{"mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "psn_no": "ZR", "lines": 1,  # type: ignore[index]
                               "total": "100.00", "status": "settled", "setl_id": setl_id}]
