"""The pure settlement core at fixed instants: who pays what, in both flows, and every refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from switch.core import admin as admin_core
from switch.core.codes import Code
from switch.core.model import Person, PutPerson
from switch.core.settlement import Original, cancel, person_info, reverse
from switch.wire.inputs import Cancel, Load, PersonQuery, Reverse, SetStatus
from tests.support.families import DONGYING, ZIBO, person
from tests.unit.core_helpers import T0, balances, commit, loaded, new_state, swipe

AT_P1 = {"terminal_id": "T1", "fixmedins_code": "P1"}  # a cancel from the institution that settled

PROMPT = "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费"


def amounts(decision: Any) -> tuple[str, ...]:
    info = decision.output["setlinfo"]
    return (info["fund_pay_sumamt"], info["acct_pay"], info["acct_mulaid_pay"], info["psn_cash_pay"], info["balc"])


# (family, patient, amount, extra input) -> (code, fund, acct, mulaid, cash, patient balc after)
AUTOMATIC_AND_OWN = [
    pytest.param(DONGYING, "DE", "20.00", {}, ("0.00", "20.00", "0.00", "0.00", "10.00"), id="own-account-covers"),
    pytest.param(ZIBO, "ZR", "80.00", {}, ("0.00", "0.00", "80.00", "0.00", "0.00"), id="zibo-holder-pays-at-once"),
    pytest.param(ZIBO, "ZR", "250.00", {}, ("0.00", "0.00", "200.00", "50.00", "0.00"), id="holder-short-rest-cash"),
    pytest.param(ZIBO, "ZH", "250.00", {}, ("0.00", "200.00", "0.00", "50.00", "0.00"), id="holder-own-then-cash"),
    pytest.param(ZIBO, "ZR", "80.00", {"acct_used_flag": "0"}, ("0.00", "0.00", "0.00", "80.00", "0.00"),
                 id="flag-0-all-cash"),
    pytest.param(ZIBO, "ZR", "100.00", {"med_type": "11"}, ("40.00", "0.00", "60.00", "0.00", "0.00"),
                 id="resident-outpatient-fund-0.4"),
    pytest.param(ZIBO, "ZH", "100.01", {"med_type": "11"}, ("50.01", "50.00", "0.00", "0.00", "150.00"),
                 id="employee-outpatient-fund-0.5-half-up"),
]


@pytest.mark.parametrize(("family", "psn", "amount", "extra", "expected"), AUTOMATIC_AND_OWN)
def test_settlement_amounts(family: dict[str, Any], psn: str, amount: str, extra: dict[str, Any],
                            expected: tuple[str, ...]) -> None:
    """Own account first, then the holder's account, then cash; the fund pays only its share."""
    state = loaded(family)
    flag = extra.pop("acct_used_flag", "1")
    decision = swipe(state, psn, amount, flag=flag, **extra)
    assert decision.code is Code.OK
    assert amounts(decision) == expected


def test_fund_part_never_pooled_and_amounts_add_up() -> None:
    """Pooling pays only the personal part: fund + acct + mulaid + cash = medfee."""
    state = loaded(ZIBO)
    d = swipe(state, "ZR", "333.33", med_type="11")
    fund, acct, mulaid, cash, _ = (round(float(x) * 100) for x in amounts(d))
    assert (fund, acct, mulaid, cash) == (13333, 0, 20000, 0)
    assert fund + acct + mulaid + cash == 33333


def test_retry_window_first_swipe_declines_and_moves_nothing() -> None:
    """Dongying: own account short → POOLING_AVAILABLE with the prompt; not even the own account moves."""
    state = loaded(DONGYING)
    d = swipe(state, "DE", "80.00")
    assert (d.code, d.err_msg) == (Code.POOLING_AVAILABLE, PROMPT)
    assert d.output == {
        "psn_no": "DE", "medfee_sumamt": "80.00", "fund_pay_sumamt": "0.00", "self_pay": "80.00",
        "acct_balc": "30.00", "shortfall": "50.00", "mulaid_psn_no": "DH",
        "window_expires_at": "2026-11-25T10:05:00.000+08:00", "window_seconds": 300,
    }
    assert balances(state) == {"DH": "500.00", "DR": "0.00", "DE": "30.00"}
    window = state.windows[("DE", "P1")]
    assert (window.opened_at, window.expires_at) == (T0, T0 + timedelta(seconds=300))
    assert [e.type for e in d.events] == ["window.opened", "settlement.declined"]


@pytest.mark.parametrize(("after", "pooled"), [
    (timedelta(0), True), (timedelta(seconds=299, microseconds=999_000), True),
    (timedelta(seconds=299, microseconds=999_999), True), (timedelta(seconds=300), False),
    (timedelta(seconds=301), False),
])
def test_window_is_half_open(after: timedelta, pooled: bool) -> None:
    """The window is [opened, opened + 300 s): 299.999 s pools, 300.000 s is a first swipe again."""
    state = loaded(DONGYING)
    swipe(state, "DE", "80.00")
    d = swipe(state, "DE", "80.00", T0 + after)
    if pooled:
        assert d.code is Code.OK and amounts(d) == ("0.00", "30.00", "50.00", "0.00", "0.00")
        assert [e.type for e in d.events] == ["window.used", "settlement.committed"]
        assert ("DE", "P1") not in state.windows
        assert balances(state) == {"DH": "450.00", "DR": "0.00", "DE": "0.00"}
    else:
        assert d.code is Code.POOLING_AVAILABLE
        assert [e.type for e in d.events] == ["window.expired", "window.opened", "settlement.declined"]
        assert state.windows[("DE", "P1")].opened_at == T0 + after
        assert balances(state) == {"DH": "500.00", "DR": "0.00", "DE": "30.00"}


def test_window_pays_once() -> None:
    """After the pooled second swipe the window is used up: the third swipe is prompted again."""
    state = loaded(DONGYING)
    swipe(state, "DR", "10.00")
    assert swipe(state, "DR", "10.00", T0 + timedelta(seconds=1)).code is Code.OK
    assert swipe(state, "DR", "10.00", T0 + timedelta(seconds=2)).code is Code.POOLING_AVAILABLE


def test_window_is_per_institution() -> None:
    """A window opened at pharmacy P1 does not let the patient pool at pharmacy P2."""
    state = loaded(DONGYING)
    swipe(state, "DR", "10.00", fixmedins="P1")
    assert swipe(state, "DR", "10.00", fixmedins="P2").code is Code.POOLING_AVAILABLE
    assert swipe(state, "DR", "10.00", fixmedins="P1").code is Code.OK
    assert set(state.windows) == {("DR", "P2")}


def test_window_stays_open_when_no_pooling_needed() -> None:
    """A settlement covered by the own account (or paid cash) leaves the window open."""
    state = loaded(DONGYING)
    swipe(state, "DE", "80.00")
    assert amounts(swipe(state, "DE", "10.00")) == ("0.00", "10.00", "0.00", "0.00", "20.00")
    assert amounts(swipe(state, "DE", "10.00", flag="0")) == ("0.00", "0.00", "0.00", "10.00", "20.00")
    assert ("DE", "P1") in state.windows
    d = swipe(state, "DE", "80.00", T0 + timedelta(seconds=10))
    assert amounts(d) == ("0.00", "20.00", "60.00", "0.00", "0.00")


def test_non_default_window_from_policy() -> None:
    """A policy with a 90 s window: prompt says 90秒, 89.999 s pools, 90.000 s prompts again."""
    state = new_state()
    commit(state, admin_core.set_policy(state, {
        "name": "dongying", "admdvs": ["370500"], "flow": "retry_window", "window_seconds": 90,
        "max_relatives": 7, "relations": ["spouse", "parent", "child", "spouse_parent"]}))
    loaded(DONGYING, state)
    d = swipe(state, "DR", "10.00")
    assert d.err_msg == "您存在有效的家庭共济绑定关系,90秒内再次刷卡,可以走家庭共济消费"
    assert d.output is not None and d.output["window_seconds"] == 90
    assert swipe(state, "DR", "10.00", T0 + timedelta(seconds=89.999)).code is Code.OK
    swipe(state, "DR", "10.00", T0 + timedelta(seconds=100))
    assert swipe(state, "DR", "10.00", T0 + timedelta(seconds=190)).code is Code.POOLING_AVAILABLE


def test_pre_settlement_has_no_side_effect() -> None:
    """2101 answers like a settlement would (decline or pooled amounts) and opens/uses no window."""
    state = loaded(DONGYING)
    pre = swipe(state, "DR", "80.00", infno="2101")
    assert pre.code is Code.POOLING_AVAILABLE and pre.effects == () and pre.events == ()
    assert state.windows == {}
    swipe(state, "DR", "80.00")
    pre = swipe(state, "DR", "80.00", infno="2101")
    assert pre.code is Code.OK and "setl_id" not in pre.output["setlinfo"]  # type: ignore[index]
    assert amounts(pre) == ("0.00", "0.00", "80.00", "0.00", "0.00") and pre.effects == ()
    assert ("DR", "P1") in state.windows and balances(state)["DH"] == "500.00"


@pytest.mark.parametrize(("change", "expected_cash"), [
    ("holder_zero", "80.00"), ("holder_suspended", "80.00"), ("cap_used_up", "80.00"), ("no_binding", "80.00"),
])
def test_pooling_not_usable_means_cash_and_no_prompt(change: str, expected_cash: str) -> None:
    """No usable pooling (holder at 0, suspended, cap used up, no binding): no prompt, the rest is cash."""
    family = {"people": [*DONGYING["people"]], "bindings": [*DONGYING["bindings"]]}
    if change == "holder_zero":
        family["people"] = [person("DH", "370500", "0.00"), *DONGYING["people"][1:]]
    if change == "holder_suspended":
        family["people"] = [person("DH", "370500", "500.00"), *DONGYING["people"][1:]]
    if change == "cap_used_up":
        family["bindings"] = [{**DONGYING["bindings"][0], "cap": "0.00"}]
    if change == "no_binding":
        family["bindings"] = []
    state = loaded(family)
    if change == "holder_suspended":
        commit(state, admin_core.set_status(state, SetStatus(psn_no="DH", status="suspended"), T0))
    d = swipe(state, "DR", "80.00")
    assert d.code is Code.OK
    assert amounts(d) == ("0.00", "0.00", "0.00", expected_cash, "0.00")
    assert state.windows == {}


def test_cap_limits_pooling_and_cancel_restores_it() -> None:
    """A holder's cap per relative bounds acct_mulaid_pay cumulatively; a cancel gives the cap back."""
    state = loaded({**ZIBO, "bindings": [{**ZIBO["bindings"][0], "cap": "50.00"}]})
    first = swipe(state, "ZR", "30.00")
    second = swipe(state, "ZR", "30.00")
    assert amounts(first)[2:4] == ("30.00", "0.00") and amounts(second)[2:4] == ("20.00", "10.00")
    assert state.binding_of["ZR"].used == 5000
    third = swipe(state, "ZR", "30.00")
    assert amounts(third)[2:4] == ("0.00", "30.00")
    commit(state, cancel(state, Cancel(setl_id=first.setl_id, psn_no="ZR"), "2103", T0, **AT_P1))  # type: ignore[arg-type]
    assert state.binding_of["ZR"].used == 2000
    assert amounts(swipe(state, "ZR", "40.00"))[2:4] == ("30.00", "10.00")


@pytest.mark.parametrize(("psn", "cert_type", "cert", "code"), [
    ("DR", "01", "QRDH", Code.CERT_MISMATCH),  # the holder's card: money pools, the card is not shared
    ("DR", "02", "QRDR", Code.CERT_MISMATCH),  # right number, wrong certificate type
    ("DR", "01", "nobody", Code.CERT_MISMATCH),
    ("XX", "01", "QRXX", Code.PERSON_NOT_FOUND),
])
def test_certificate_must_be_the_patients_own(psn: str, cert_type: str, cert: str, code: Code) -> None:
    """钱可以共济,卡不能共用: a settlement with someone else's certificate is refused, nothing moves."""
    state = loaded(DONGYING)
    d = swipe(state, psn, "10.00", mdtrt_cert_type=cert_type, mdtrt_cert_no=cert)
    assert d.code is code and d.effects == () and [e.type for e in d.events] == ["settlement.declined"]
    assert balances(state) == {"DH": "500.00", "DR": "0.00", "DE": "30.00"}


def test_suspended_patient_and_wrong_insutype_are_refused() -> None:
    """A suspended patient gets INSURANCE_SUSPENDED; a claimed insutype that is not theirs INVALID_REQUEST."""
    state = loaded({"people": [person("S1", "370500", "10.00", status="suspended"), person("E1", "370500", "9.00")]})
    assert swipe(state, "S1", "1.00").code is Code.INSURANCE_SUSPENDED
    d = swipe(state, "E1", "1.00", insutype="390")
    assert d.code is Code.INVALID_REQUEST and d.output["errors"][0]["loc"] == ["input", "druginfo", "insutype"]  # type: ignore[index]


def test_policy_own_first_false_charges_holder_first() -> None:
    """A policy with own_first: false takes the holder's account before the patient's own."""
    state = new_state()
    commit(state, admin_core.set_policy(state, {"name": "zibo", "admdvs": ["370300"], "flow": "automatic",
                                                "own_first": False}))
    state = loaded({"people": [person("ZH", "370300", "200.00"), person("ZE", "370300", "50.00")],
                    "bindings": [{"holder_psn_no": "ZH", "relative_psn_no": "ZE", "rltn": "spouse"}]}, state)
    assert amounts(swipe(state, "ZE", "80.00")) == ("0.00", "0.00", "80.00", "0.00", "50.00")


def test_policy_switched_off_after_binding_stops_pooling() -> None:
    """Pooling needs the holder's policy to allow it at settlement time, not just at binding time."""
    state = loaded(ZIBO)
    commit(state, admin_core.set_policy(state, {"name": "zibo", "admdvs": ["370300"], "flow": "disabled"}))
    assert amounts(swipe(state, "ZR", "80.00")) == ("0.00", "0.00", "0.00", "80.00", "0.00")


def test_cancel_refunds_every_source_with_negated_amounts() -> None:
    """2103 refunds own account and holder account; amounts negated; twice is ALREADY_CANCELLED."""
    state = loaded(DONGYING)
    swipe(state, "DE", "80.00")
    settled = swipe(state, "DE", "80.00")
    assert balances(state) == {"DH": "450.00", "DR": "0.00", "DE": "0.00"}
    d = commit(state, cancel(state, Cancel(setl_id=settled.setl_id or "", psn_no="DE"), "2103", T0, **AT_P1))
    assert d.code is Code.OK
    assert amounts(d) == ("0.00", "-30.00", "-50.00", "0.00", "30.00")
    assert d.output["setlinfo"]["medfee_sumamt"] == "-80.00"  # type: ignore[index]
    assert balances(state) == {"DH": "500.00", "DR": "0.00", "DE": "30.00"}
    again = cancel(state, Cancel(setl_id=settled.setl_id or "", psn_no="DE"), "2103", T0, **AT_P1)
    assert again.code is Code.ALREADY_CANCELLED and again.effects == ()
    other = cancel(state, Cancel(setl_id=settled.setl_id or "", psn_no="DR"), "2103", T0, **AT_P1)
    assert other.code is Code.SETTLEMENT_NOT_FOUND
    assert cancel(state, Cancel(setl_id="SETL9999999999", psn_no="DE"), "2103", T0,
                  **AT_P1).code is Code.SETTLEMENT_NOT_FOUND
    assert [r.amount for r in state.records.get("DH")] == [5000, -5000]


def _reverse(state: Any, omsgid: str, original: Original | None, oinfno: str = "2102", psn: str = "ZR") -> Any:
    return commit(state, reverse(state, Reverse(psn_no=psn, omsgid=omsgid, oinfno=oinfno), "T1", original, T0))


def test_reversal_cases() -> None:
    """2601: settled → undone; declined/cancelled/other infno → reversed false; 1101 → NOT_REVERSIBLE."""
    state = loaded(ZIBO)
    s = swipe(state, "ZR", "80.00", msgid="A")
    done = _reverse(state, "A", Original("2102", "OK", s.setl_id))
    assert done.code is Code.OK and done.output["reversed"] is True
    assert done.output["setlinfo"]["acct_mulaid_pay"] == "-80.00" and balances(state)["ZH"] == "200.00"
    again = _reverse(state, "A", Original("2102", "OK", s.setl_id))
    assert again.output["reversed"] is False and again.effects == ()
    assert _reverse(state, "B", Original("2102", "POOLING_AVAILABLE", None)).output["reversed"] is False
    assert _reverse(state, "C", Original("1101", "OK", None)).output["reversed"] is False
    assert _reverse(state, "A", None, oinfno="1101").code is Code.NOT_REVERSIBLE
    assert _reverse(state, "A", Original("2102", "OK", s.setl_id), psn="ZH").code is Code.SETTLEMENT_NOT_FOUND


def test_reversal_before_original() -> None:
    """A reversal of a msgid never seen is remembered; the original arriving later is REVERSED."""
    state = loaded(ZIBO)
    d = _reverse(state, "LATE", None)
    assert d.code is Code.OK and d.output["reversed"] is False
    late = swipe(state, "ZR", "80.00", msgid="LATE")
    assert late.code is Code.REVERSED and late.effects == ()
    assert balances(state)["ZH"] == "200.00"
    other_terminal = swipe(state, "ZR", "80.00", msgid="LATE", terminal="T2")
    assert other_terminal.code is Code.OK


def v1_fields(output: Any) -> dict[str, Any]:
    """A 1101 output as v1 had it: the platform's added fields left out (tests/unit/test_platform_fields.py)."""
    return {"baseinfo": {k: output["baseinfo"][k] for k in ("psn_no", "psn_name")},
            "insuinfo": [{k: v for k, v in insu.items() if k in ("insutype", "balc", "psn_insu_stas", "insuplc_admdvs")}
                         for insu in output["insuinfo"]],
            "mulaid": output["mulaid"]}


def test_person_info() -> None:
    """1101 reads the card: identity, insurance with balance for 310 only, and who bound them."""
    state = loaded(DONGYING)
    d = person_info(state, PersonQuery(mdtrt_cert_type="01", mdtrt_cert_no="QRDR"), T0)
    assert v1_fields(d.output) == {"baseinfo": {"psn_no": "DR", "psn_name": "测试DR"},
                        "insuinfo": [{"insutype": "390", "psn_insu_stas": "active", "insuplc_admdvs": "370500"}],
                        "mulaid": {"holder_psn_no": "DH", "holder_name": "测试DH", "rltn": "child"}}
    d = person_info(state, PersonQuery(mdtrt_cert_type="03", mdtrt_cert_no="SSDH"), T0)
    assert d.output["insuinfo"][0]["balc"] == "500.00" and d.output["mulaid"] is None  # type: ignore[index]
    assert person_info(state, PersonQuery(mdtrt_cert_type="01", mdtrt_cert_no="??"), T0).code is Code.PERSON_NOT_FOUND
    d = person_info(state, PersonQuery(mdtrt_cert_type="01", mdtrt_cert_no="QRDH", psn_no="DR"), T0)
    assert d.code is Code.CERT_MISMATCH


def test_hunan_switched_off_region_does_not_pool() -> None:
    """A holder insured in 株洲 (430200) falls under hunan-off: binding there is REGION_NOT_ALLOWED."""
    state = new_state()
    family = {"people": [person("HH", "430200", "100.00"), person("HR", "430200", insutype="390")],
              "bindings": [{"holder_psn_no": "HH", "relative_psn_no": "HR", "rltn": "child"}]}
    d = admin_core.load(state, Load.model_validate(family), T0)
    assert d.code is Code.REGION_NOT_ALLOWED


def test_state_filters_to_a_family() -> None:
    """admin.state with psn_no shows that person's family only, with balances and windows."""
    state = loaded(DONGYING)
    loaded(ZIBO, state)
    swipe(state, "DR", "10.00")
    d = admin_core.state_view(state, "DR", T0)
    assert {p["psn_no"] for p in d.output["people"]} == {"DH", "DR", "DE"}  # type: ignore[index]
    assert d.output["windows"] == [{"psn_no": "DR", "fixmedins_code": "P1", "holder_psn_no": "DH",  # type: ignore[index]
                                    "opened_at": "2026-11-25T10:00:00.000+08:00",
                                    "expires_at": "2026-11-25T10:05:00.000+08:00"}]
    assert admin_core.state_view(state, "NOPE", T0).code is Code.PERSON_NOT_FOUND
    assert admin_core.state_view(state, None, T0).output["counts"]["people"] == 5  # type: ignore[index]


def test_people_are_upserted_and_balance_set_through_the_ledger() -> None:
    """Loading a person again updates them; a given balc sets the balance, an omitted one keeps it."""
    state = loaded(ZIBO)
    loaded({"people": [person("ZH", "370300", "350.00", name="新名字")]}, state)
    assert state.people["ZH"].balc == 35000 and state.people["ZH"].psn_name == "新名字"
    loaded({"people": [person("ZH", "370300")]}, state)
    assert state.people["ZH"].balc == 35000
    assert state.externals["@load"] == -35000
    replaced = PutPerson(Person("ZH", "x", "310", "370300", "active", {}))
    commit(state, type("D", (), {"effects": (replaced,)})())
    assert state.cert_owner.get(("01", "QRZH")) is None and state.people["ZH"].balc == 35000


def test_cancel_from_another_institution_is_settlement_not_found() -> None:
    """Only the institution that settled may cancel; another gets SETTLEMENT_NOT_FOUND, as for no settlement."""
    state = loaded(ZIBO)
    settled = swipe(state, "ZR", "80.00", fixmedins="P2", terminal="T2")
    assert balances(state)["ZH"] == "120.00"
    foreign = cancel(state, Cancel(setl_id=settled.setl_id or "", psn_no="ZR"), "2103", T0,
                     terminal_id="T1", fixmedins_code="P1")
    missing = cancel(state, Cancel(setl_id="SETL9999999999", psn_no="ZR"), "2103", T0,
                     terminal_id="T1", fixmedins_code="P1")
    assert foreign.code is Code.SETTLEMENT_NOT_FOUND and foreign.effects == () and foreign.events == ()
    assert foreign.err_msg == f"参保人 ZR 没有结算 {settled.setl_id}"
    assert missing.err_msg == "参保人 ZR 没有结算 SETL9999999999"
    assert balances(state)["ZH"] == "120.00"
    own = commit(state, cancel(state, Cancel(setl_id=settled.setl_id or "", psn_no="ZR"), "2103", T0,
                               terminal_id="T3", fixmedins_code="P2"))
    assert own.code is Code.OK and balances(state)["ZH"] == "200.00"
    assert own.events[0].data == {"setl_id": settled.setl_id, "psn_no": "ZR", "infno": "2103", "terminal_id": "T2",
                                  "fixmedins_code": "P2", "cancelled_by": "T3", "mulaid_psn_no": "ZH"}


def test_a_swipe_before_the_window_opened_is_outside_it() -> None:
    """Window [10:00, 10:05); a swipe at 09:59 (clock moved back) is a first swipe: declined, nothing pooled."""
    state = loaded(DONGYING)
    swipe(state, "DE", "80.00")
    d = swipe(state, "DE", "80.00", T0 - timedelta(minutes=1))
    assert d.code is Code.POOLING_AVAILABLE
    assert [e.type for e in d.events] == ["window.closed", "window.opened", "settlement.declined"]
    assert d.events[0].data["reason"] == "not_yet_open"
    assert balances(state) == {"DH": "500.00", "DR": "0.00", "DE": "30.00"}
    window = state.windows[("DE", "P1")]
    assert (window.opened_at, window.expires_at) == (T0 - timedelta(minutes=1), T0 + timedelta(minutes=4))
    pooled = swipe(state, "DE", "80.00", T0 + timedelta(minutes=3))
    assert pooled.code is Code.OK and amounts(pooled) == ("0.00", "30.00", "50.00", "0.00", "0.00")
