"""Sign-in (9001/9002) with policy require_sign_in, per institution; reconciliation (3201) against the ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from switch.core.codes import Code
from switch.core.model import PutPolicy, apply
from switch.core.signin import institution_region
from tests.support.clinic import Till, settle_input
from tests.support.families import DONGYING, ZIBO
from tests.unit.core_helpers import T0, loaded, swipe

CARD = {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDH"}}


def till(require: bool = True) -> Till:
    state = loaded(ZIBO, loaded(DONGYING))
    if require:  # Dongying (370500) institutions must sign in
        apply(state, PutPolicy(state.policies.for_region("370500").model_copy(update={"require_sign_in": True})))
    return Till(state, T0)


def sign_in(t: Till, **kw: Any) -> str:
    d = t.send("9001", {"signIn": {"opter_no": "OP1", "mac": "00:11", "ip": "10.0.0.8"}}, **kw)
    assert d.code is Code.OK
    assert d.output["signinoutb"]["sign_time"] == "2026-11-25T10:00:00.000+08:00"  # type: ignore[index]
    return str(d.output["signinoutb"]["sign_no"])  # type: ignore[index]


@pytest.mark.parametrize(("code", "region"), [
    ("P37050000001", "370500"), ("H37030000001", "370300"), ("P1", "default"), ("3705000001", "default")])
def test_an_institution_follows_its_codes_region(code: str, region: str) -> None:
    """A national institution code is a letter and the 6-digit region; any other shape follows the default policy."""
    assert institution_region(code) == region


def test_off_by_default_nothing_needs_a_sign_in() -> None:
    """Without require_sign_in (every packaged policy) a transaction without sign_no is answered as before."""
    assert till(require=False).send("1101", CARD).code is Code.OK


def test_required_sign_in_refuses_until_signed_in_and_after_sign_out() -> None:
    """require_sign_in: no sign_no, then a live one, then one signed out (9002)."""
    t = till()
    assert t.send("1101", CARD).code is Code.SIGN_IN_REQUIRED
    t.sign_no = sign_in(t)
    assert t.sign_no == "SN0000000001"
    assert t.send("1101", CARD).code is Code.OK
    out = t.send("9002", {"signOut": {"sign_no": t.sign_no, "opter_no": "OP1"}})
    assert (out.code, out.output) == (Code.OK, {"signoutoutb": {"sign_time": "2026-11-25T10:00:00.000+08:00"}})
    refused = t.send("1101", CARD)
    assert refused.code is Code.SIGN_IN_REQUIRED and "SN0000000001" in str(refused.err_msg)
    assert t.send("9002", {"signOut": {"sign_no": t.sign_no}}).code is Code.INVALID_REQUEST


def test_a_sign_in_is_the_institutions_own_and_lasts_its_day() -> None:
    """Another institution's sign_no does not count; a sign_no from yesterday (China time) does not either."""
    t = till()
    t.sign_no = sign_in(t, fixmedins_code="P37050000002")
    assert t.send("1101", CARD).code is Code.SIGN_IN_REQUIRED
    t.sign_no = sign_in(t)
    assert t.send("1101", CARD, at=T0 + timedelta(hours=13, minutes=59)).code is Code.OK  # 23:59 in China
    assert t.send("1101", CARD, at=T0 + timedelta(hours=14)).code is Code.SIGN_IN_REQUIRED
    other_region = t.send("1101", CARD, fixmedins_code="P37030000001")  # Zibo does not require it
    assert other_region.code is Code.OK


def reconcile_input(**figures: Any) -> dict[str, Any]:
    body = {"insutype": "", "clr_type": "11", "setl_optins": "370300", "stmt_begndate": "2026-11-25",
            "stmt_enddate": "2026-11-25", "medfee_sumamt": "0.00", "fund_pay_sumamt": "0.00", "acct_pay": "0.00",
            "fixmedins_setl_cnt": 0, "refd_setl_flag": "0"}
    return {"data": {**body, **figures}}


def day(t: Till) -> None:
    """Three outpatient settlements: ZR 100.00 (pooled 60.00), ZH 50.00 (own 25.00), ZR 10.00 cancelled;
    and one pharmacy sale and one at another institution, out of scope."""
    for psn, amount in (("ZR", "100.00"), ("ZH", "50.00"), ("ZR", "10.00")):
        assert t.send("2207", settle_input(psn, amount)).code is Code.OK
    assert t.send("2208", {"data": {"setl_id": "SETL0000000003", "psn_no": "ZR"}}).code is Code.OK
    swipe(t.state, "ZH", "5.00", fixmedins="P37050000001")
    t.send("2207", settle_input("ZH", "7.00"), fixmedins_code="P37050000002")


@pytest.mark.parametrize(("figures", "rslt", "dscr"), [
    ({"medfee_sumamt": "150.00", "fund_pay_sumamt": "65.00", "acct_pay": "85.00", "fixmedins_setl_cnt": 2},
     "0", "balanced: every figure agrees"),
    ({"medfee_sumamt": "150.00", "fund_pay_sumamt": "65.00", "acct_pay": "25.00", "fixmedins_setl_cnt": 2},
     "1", "acct_pay: switch 85.00, institution 25.00"),  # the pooled 60.00 left out of the personal account
    ({"medfee_sumamt": "160.00", "fund_pay_sumamt": "65.00", "acct_pay": "85.00", "fixmedins_setl_cnt": "3"},
     "1", "medfee_sumamt: switch 150.00, institution 160.00; fixmedins_setl_cnt: switch 2, institution 3"),
])
def test_reconciliation_names_each_figure_that_differs(figures: dict[str, Any], rslt: str, dscr: str) -> None:
    """3201 counts the institution's settlements in force that day, acct_pay = acct_pay + acct_mulaid_pay."""
    t = till(require=False)
    day(t)
    d = t.send("3201", reconcile_input(**figures))
    assert (d.code, d.output) == (Code.OK, {"stmtinfo": {"setl_optins": "370300", "stmt_rslt": rslt,
                                                         "stmt_rslt_dscr": dscr}})


def test_reconciliation_by_type_and_date() -> None:
    """clr_type 41 counts the pharmacy sale only; insutype 390 only ZR's; another day counts nothing."""
    t = till(require=False)
    day(t)
    pharmacy = reconcile_input(clr_type="41", medfee_sumamt="5.00", acct_pay="5.00", fixmedins_setl_cnt=1)
    assert t.send("3201", pharmacy).output["stmtinfo"]["stmt_rslt"] == "0"  # type: ignore[index]
    resident = reconcile_input(insutype="390", medfee_sumamt="100.00", fund_pay_sumamt="40.00", acct_pay="60.00",
                               fixmedins_setl_cnt=1)
    assert t.send("3201", resident).output["stmtinfo"]["stmt_rslt"] == "0"  # type: ignore[index]
    tomorrow = reconcile_input(stmt_begndate="2026-11-26", stmt_enddate="2026-11-26")
    assert t.send("3201", tomorrow).output["stmtinfo"]["stmt_rslt"] == "0"  # type: ignore[index]
    backwards = t.send("3201", reconcile_input(stmt_begndate="2026-11-26"))
    assert backwards.code is Code.INVALID_REQUEST


def test_reconciliation_dates_compact_as_well_and_a_wrong_one_named() -> None:
    """yyyyMMdd reads as yyyy-MM-dd (same answer); a timestamp or another form is refused naming the form."""
    t = till(require=False)
    day(t)
    figures = {"medfee_sumamt": "150.00", "fund_pay_sumamt": "65.00", "acct_pay": "85.00", "fixmedins_setl_cnt": 2}
    compact = t.send("3201", reconcile_input(stmt_begndate="20261125", stmt_enddate="20261125", **figures))
    assert compact.output == t.send("3201", reconcile_input(**figures)).output
    assert compact.output["stmtinfo"]["stmt_rslt"] == "0"  # type: ignore[index]
    for wrong in ("1700000000", "2026/11/25", "2026-13-01"):
        with pytest.raises(ValidationError) as refused:
            t.send("3201", reconcile_input(stmt_begndate=wrong))
        [error] = refused.value.errors()
        assert error["loc"] == ("data", "stmt_begndate")
        assert error["msg"] == f"Value error, must be a date as yyyy-MM-dd (or yyyyMMdd), got {wrong!r}"
