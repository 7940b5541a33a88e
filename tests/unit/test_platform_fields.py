"""The platform's answer fields the core adds beside v1's: identity from the ID number, setlinfo, setldetail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from switch.core.codes import Code
from switch.core.model import Person
from switch.core.platform import identity
from switch.core.settlement import Original, cancel, person_info, reverse
from switch.wire.inputs import Cancel, PersonQuery, Reverse
from tests.support.families import person
from tests.unit.core_helpers import T0, loaded, swipe

ID_M = "370502198001010011"  # born 1980-01-01, 17th digit 1: male
ID_F = "370502201001010022"  # born 2010-01-01, 17th digit 2: female


def _person(certno: str | None, gend: str | None = None, brdy: str | None = None) -> Person:
    certs = {} if certno is None else {"02": certno}
    return Person("P", "测试", "390", "370500", "active", certs, 0, gend, brdy)


# (02 certificate, loaded gend, loaded brdy, now) -> (psn_cert_type, certno, gend, brdy, age)
IDENTITIES = [
    pytest.param(ID_M, None, None, T0, ("01", ID_M, "1", "1980-01-01", 46), id="male-from-id"),
    pytest.param(ID_F, None, None, T0, ("01", ID_F, "2", "2010-01-01", 16), id="female-from-id"),
    pytest.param("11010519491231002X", None, None, T0, ("01", "11010519491231002X", "2", "1949-12-31", 76),
                 id="check-digit-X"),
    pytest.param("370502200011250011", None, None, T0, ("01", "370502200011250011", "1", "2000-11-25", 26),
                 id="birthday-today-counts"),
    pytest.param("370502200011260011", None, None, T0, ("01", "370502200011260011", "1", "2000-11-26", 25),
                 id="birthday-tomorrow-not-yet"),
    pytest.param("370502200011250011", None, None, datetime(2026, 11, 24, 16, 30, tzinfo=UTC),
                 ("01", "370502200011250011", "1", "2000-11-25", 26), id="date-in-china-time"),
    pytest.param("IDDR", None, None, T0, ("01", "IDDR", None, None, None), id="not-an-id-number"),
    pytest.param("370502198013450011", None, None, T0, ("01", "370502198013450011", None, None, None),
                 id="impossible-birth-date"),
    pytest.param(ID_M, "2", "1990-06-15", T0, ("01", ID_M, "2", "1990-06-15", 36), id="loaded-wins"),
    pytest.param("IDDR", "1", None, T0, ("01", "IDDR", "1", None, None), id="loaded-gend-only"),
    pytest.param(None, None, "1990-06-15", T0, (None, None, None, "1990-06-15", 36), id="no-id-card"),
    pytest.param("370502203001010011", None, None, T0, ("01", "370502203001010011", "1", "2030-01-01", None),
                 id="born-after-today-has-no-age"),
]


@pytest.mark.parametrize(("certno", "gend", "brdy", "now", "expected"), IDENTITIES)
def test_identity_from_load_else_from_the_id_number(certno: str | None, gend: str | None, brdy: str | None,
                                                    now: datetime, expected: tuple[Any, ...]) -> None:
    """gend/brdy come from admin.load when given, else from an 18-digit ID number; age on China's date."""
    got = identity(_person(certno, gend, brdy), now)
    assert (got["psn_cert_type"], got["certno"], got["gend"], got["brdy"], got["age"]) == expected


FAMILY: dict[str, Any] = {
    "people": [{**person("H", "370300", "200.00"), "certs": {"01": "QRH", "02": ID_M}},
               {**person("R", "370300", insutype="390"), "certs": {"01": "QRR", "02": ID_F}, "gend": "1",
                "brdy": "2010-02-03"}],
    "bindings": [{"holder_psn_no": "H", "relative_psn_no": "R", "rltn": "child"}],
}


def test_person_info_answers_the_platforms_full_1101() -> None:
    """1101: baseinfo with certno/gend/naty/brdy/age, insuinfo with psn_type etc., idetinfo [], v1's mulaid."""
    state = loaded(FAMILY)
    output = person_info(state, PersonQuery(mdtrt_cert_type="02", mdtrt_cert_no=ID_F), T0).output
    assert output == {
        "baseinfo": {"psn_no": "R", "psn_cert_type": "01", "certno": ID_F, "psn_name": "测试R", "gend": "1",
                     "naty": "01", "brdy": "2010-02-03", "age": 16},
        "insuinfo": [{"insutype": "390", "psn_type": "1501", "psn_insu_stas": "active", "psn_insu_date": None,
                      "paus_insu_date": None, "cvlserv_flag": "0", "insuplc_admdvs": "370300", "emp_name": None}],
        "idetinfo": [],
        "mulaid": {"holder_psn_no": "H", "holder_name": "测试H", "rltn": "child"}}
    holder = person_info(state, PersonQuery(mdtrt_cert_type="01", mdtrt_cert_no="QRH"), T0).output
    assert holder is not None and holder["insuinfo"][0]["balc"] == "200.00"
    assert holder["insuinfo"][0]["psn_type"] == "1101" and holder["baseinfo"]["gend"] == "1"


# (infno, patient, amount, extra) -> the platform's setlinfo fields and setldetail (Zibo: holder pays at once)
SETTLEMENTS = [
    pytest.param("2102", "R", "80.00", {}, {
        "mdtrt_id": "MDTRT0000000001", "psn_cert_type": "01", "certno": ID_F, "gend": "1", "brdy": "2010-02-03",
        "age": 16, "psn_type": "1501", "mdtrt_cert_type": "01", "med_type": "41", "hifp_pay": "0.00",
        "psn_part_amt": "80.00", "fulamt_ownpay_amt": "0.00", "overlmt_selfpay": "0.00", "preselfpay_amt": "0.00",
        "inscp_scp_amt": "80.00", "hosp_part_amt": "0.00", "medins_setl_id": "M-1", "clr_optins": "370300",
        "clr_way": "1", "clr_type": "41"}, [], id="pharmacy-resident-pooled"),
    pytest.param("2207", "R", "100.00", {"med_type": "11"}, {
        "mdtrt_id": "MDTRT0000000001", "med_type": "11", "hifp_pay": "40.00", "psn_part_amt": "60.00",
        "inscp_scp_amt": "100.00", "clr_type": "11", "gend": "1", "age": 16},
        [{"fund_pay_type": "390100", "fund_pay_type_name": "城乡居民基本医疗保险基金", "fund_payamt": "40.00",
          "inscp_scp_amt": "100.00"}], id="outpatient-resident-fund-0.4"),
    pytest.param("2207", "H", "250.00", {"med_type": "11"}, {
        "hifp_pay": "125.00", "psn_part_amt": "125.00", "psn_type": "1101", "gend": "1", "brdy": "1980-01-01",
        "age": 46, "clr_optins": "370300"},
        [{"fund_pay_type": "310100", "fund_pay_type_name": "职工基本医疗保险统筹基金", "fund_payamt": "125.00",
          "inscp_scp_amt": "250.00"}], id="outpatient-employee-fund-0.5"),
    pytest.param("2102", "H", "250.00", {"acct_used_flag": "0"}, {"psn_part_amt": "250.00", "hifp_pay": "0.00"},
                 [], id="all-cash-is-still-the-patients-part"),
    pytest.param("2101", "R", "80.00", {}, {"mdtrt_id": "<absent>", "medins_setl_id": "M-1", "clr_type": "41",
                                            "psn_part_amt": "80.00"}, [], id="pre-settlement-has-no-visit"),
]


@pytest.mark.parametrize(("infno", "psn", "amount", "extra", "fields", "detail"), SETTLEMENTS)
def test_settlement_answers_the_platforms_setlinfo_and_setldetail(
        infno: str, psn: str, amount: str, extra: dict[str, Any], fields: dict[str, Any],
        detail: list[dict[str, Any]]) -> None:
    """setlinfo gains mdtrt_id, identity, psn_part_amt = acct + mulaid + cash, inscp_scp_amt = medfee..."""
    state = loaded(FAMILY)
    flag = extra.pop("acct_used_flag", "1")
    decision = swipe(state, psn, amount, infno=infno, flag=flag, msgid="M-1", **extra)
    assert decision.code is Code.OK and decision.output is not None
    info = decision.output["setlinfo"]
    got = {name: info.get(name, "<absent>") for name in fields}
    assert got == fields
    assert decision.output["setldetail"] == detail


def test_cancel_and_reversal_show_the_same_visit_negated() -> None:
    """2103 and 2601 answer the settlement's mdtrt_id, medins_setl_id and med_type, amounts negated."""
    state = loaded(FAMILY)
    first = swipe(state, "R", "100.00", infno="2207", med_type="14", msgid="M-1")
    second = swipe(state, "R", "50.00", infno="2207", med_type="11", msgid="M-2")
    assert first.setl_id is not None and second.setl_id is not None
    cancelled = cancel(state, Cancel(setl_id=first.setl_id, psn_no="R"), "2208", T0, terminal_id="T1",
                       fixmedins_code="P1").output
    reversed_ = reverse(state, Reverse(psn_no="R", omsgid="M-2", oinfno="2207"), "T1",
                        Original("2207", "OK", second.setl_id), T0).output
    assert cancelled is not None and reversed_ is not None
    resident_fund = {"fund_pay_type": "390100", "fund_pay_type_name": "城乡居民基本医疗保险基金"}
    for output, setl_id, msgid, med_type, fee, fund, detail in (
            (cancelled, first.setl_id, "M-1", "14", "-100.00", "0.00", []),  # no fund ratio for 14: no line
            (reversed_, second.setl_id, "M-2", "11", "-50.00", "-20.00",
             [{**resident_fund, "fund_payamt": "-20.00", "inscp_scp_amt": "-50.00"}])):
        info = output["setlinfo"]
        assert (info["mdtrt_id"], info["medins_setl_id"], info["med_type"], info["mdtrt_cert_type"]) == (
            "MDTRT" + setl_id[4:], msgid, med_type, "01")
        assert (info["inscp_scp_amt"], info["hifp_pay"], info["clr_type"]) == (fee, fund, "11")
        assert output["setldetail"] == detail
    assert cancelled["setlinfo"]["psn_part_amt"] == "-100.00" and reversed_["setlinfo"]["psn_part_amt"] == "-30.00"
