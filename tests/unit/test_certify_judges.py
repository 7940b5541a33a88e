"""The conformance run's rules on traffic built by hand: the breaches no faulty till of the e2e tests commits."""

from __future__ import annotations

from typing import Any

from terminal.certify import judges
from terminal.certify.judges import Watched
from terminal.certify.traffic import Exchange

FIX = "P37050200001"
_ids = iter(range(1, 10_000))


def ex(infno: str, msgid: str, input: dict[str, Any], code: str | None = "OK", output: dict[str, Any] | None = None,
       at: str = "2026-11-26T09:00:00.000+08:00", answers: int = 1) -> Exchange:
    n = next(_ids)
    request = {"infno": infno, "msgid": msgid, "fixmedins_code": FIX, "input": input}
    response = None if code is None else {"infno": infno, "code": code, "output": output or {}}
    return Exchange(n, float(n), at, infno, msgid, code, answers, 1.0, request, response)


def sale(msgid: str, cert: str, code: str | None = "OK", psn_no: str = "CZ0002", **out: Any) -> Exchange:
    body = {"druginfo": {"psn_no": psn_no, "mdtrt_cert_type": "01", "mdtrt_cert_no": cert, "medfee_sumamt": "80.00"}}
    return ex("2102", msgid, body, code, out, at=out.pop("at", "2026-11-26T09:00:00.000+08:00"))


def decline(msgid: str = "M1") -> Exchange:
    return sale(msgid, "QRCZ0002WANGXM", "POOLING_AVAILABLE", window_expires_at="2026-11-26T09:05:00.000+08:00")


def test_a_swipe_again_after_the_window_fails() -> None:
    """A swipe again at the window's end (half-open: expires_at itself is outside) fails, naming both times."""
    first = decline()
    late = sale("M2", "QRCZ0002WANGXM", setlinfo={"acct_mulaid_pay": "60.00"}, at="2026-11-26T09:05:00.000+08:00")
    verdict = judges.swipe_again(Watched("mqtt", FIX, [first, late]))
    assert verdict.outcome == "fail"
    assert verdict.detail == ("the swipe again came at 2026-11-26T09:05:00.000+08:00, after the window closed at "
                              "2026-11-26T09:05:00+08:00")


def test_a_swipe_again_under_the_declined_msgid_fails() -> None:
    """Resending the declined msgid replays the decline: the swipe again needs a new msgid."""
    first = decline()
    again = sale("M1", "370500000002", setlinfo={"acct_mulaid_pay": "60.00"})
    verdict = judges.swipe_again(Watched("http", FIX, [first, again]))
    assert (verdict.outcome, verdict.detail) == ("fail", "the swipe again reused the declined msgid M1: it replays "
                                                         "the decline")


def test_the_own_card_number_counts_as_the_patients_certificate() -> None:
    """The swipe again may use the patient's social-security card (03) instead of the QR token."""
    first = decline()
    again = sale("M2", "370500000002", setlinfo={"acct_mulaid_pay": "60.00"})
    assert judges.swipe_again(Watched("mqtt", FIX, [first, again])).outcome == "pass"


def test_a_card_read_of_another_certificate_fails() -> None:
    """The 1101 must read the certificate the sale then uses."""
    read = ex("1101", "R1", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRCZ0001ZHANGWEI"})
    verdict = judges.card_read(Watched("mqtt", FIX, [read, sale("M1", "QRCZ0002WANGXM")]))
    assert verdict.detail == "the 1101 read certificate 'QRCZ0001ZHANGWEI', the sale used 'QRCZ0002WANGXM'"


def test_one_msgid_for_two_requests_fails_and_a_resend_does_not() -> None:
    """A msgid resent with the same input is one request; under another input it names two."""
    first = sale(f"{FIX}202611260900000001", "QRCZ0001ZHANGWEI", psn_no="CZ0001")
    resend = sale(f"{FIX}202611260900000001", "QRCZ0001ZHANGWEI", psn_no="CZ0001")
    assert judges.msgids(Watched("http", FIX, [resend], run=[first, resend])).outcome == "pass"
    other = ex("1101", f"{FIX}202611260900000001", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "X"})
    verdict = judges.msgids(Watched("http", FIX, [other], run=[first, other]))
    assert verdict.detail == f"msgid {FIX}202611260900000001 named two different requests (2102 and 1101)"


def test_platform_msgids_with_an_impossible_time_fail() -> None:
    """Over HTTP a msgid's 14 digits must be a real time; over MQTT v1 msgids are free-form."""
    bad = ex("1101", f"{FIX}202613260900000001", {"mdtrt_cert_no": "X"})
    verdict = judges.msgids(Watched("http", FIX, [bad], run=[bad]))
    assert verdict.detail == f"msgid '{FIX}202613260900000001' carries an impossible time 20261326090000"
    assert judges.msgids(Watched("mqtt", FIX, [bad], run=[bad])).outcome == "pass"


def test_a_reversal_of_another_msgid_does_not_resolve_the_lost_one() -> None:
    """After an unanswered settlement, a 2601 must name that settlement's msgid."""
    lost = sale("M1", "QRCZ0001ZHANGWEI", code=None, psn_no="CZ0001")
    wrong = ex("2601", "R1", {"data": {"psn_no": "CZ0001", "omsgid": "M0", "oinfno": "2102"}})
    verdict = judges.unanswered(Watched("http", FIX, [lost, wrong]))
    assert verdict.detail == "the 2601 R1 reversed 'M0', not M1"


def test_a_late_answer_is_said_to_be_late_and_a_dropped_one_withheld() -> None:
    """The same rule judges both cases; the verdict says what the switch did: withheld, or sent --late-after s late."""
    from terminal.certify.cases import all_cases

    lost = sale("M1", "QRCZ0001ZHANGWEI", psn_no="CZ0001")
    undo = ex("2601", "R1", {"data": {"psn_no": "CZ0001", "omsgid": "M1", "oinfno": "2102"}})
    cases = {c.id: c for c in all_cases(6.0)}
    late = cases["late-answer"].judge(Watched("http", FIX, [lost, undo]))
    dropped = cases["dropped-answer"].judge(Watched("http", FIX, [lost, undo]))
    assert (late.outcome, late.detail) == ("pass", "settlement M1 (answer sent 6 s late) was reversed by 2601 R1")
    assert (dropped.outcome, dropped.detail) == ("pass", "settlement M1 (answer withheld) was reversed by 2601 R1")
