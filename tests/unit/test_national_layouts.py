"""The platform's input layouts on both doors: data{...}, blanks as absent, input as a string, envelope text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switch.core.codes import Code
from switch.errors import RequestRejected
from switch.service.transactions import TABLE
from switch.wire.envelope import fingerprint, parse_request, validate_input
from switch.wire.inputs import Cancel, PersonQuery, PharmacySettle, Reverse

NATIONAL_ENVELOPE = {
    "mdtrtarea_admvs": "370500", "insuplc_admdvs": "370500", "recer_sys_code": "FSI_LOCAL", "dev_no": "",
    "dev_safe_info": "", "cainfo": "", "signtype": "SM2", "infver": "V1.0", "opter_type": 1,
    "opter": "001", "opter_name": "收银员", "inf_time": "2026-11-25 10:00:00", "fixmedins_name": "东营大药房",
    "sign_no": "SIGN0001",
}


def request(infno: str, input_: Any, **envelope: Any) -> Any:
    payload = {"infno": infno, "msgid": "P37050000001202611251000000001", "fixmedins_code": "P37050000001",
               "input": input_, **envelope}
    return parse_request("pos", "T1", json.dumps(payload, ensure_ascii=False).encode())


def checked(r: Any) -> Any:
    """The request's input validated by its transaction's model, as the service does."""
    return validate_input(r, TABLE[(r.channel, r.infno)].input)


def validated(infno: str, input_: Any, **envelope: Any) -> Any:
    return checked(request(infno, input_, **envelope))


def rejection(infno: str, input_: Any) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        validated(infno, input_)
    return caught.value


# (infno, national input, v1 input, the model both become)
LAYOUTS = [
    pytest.param("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "370502198001010011",
                                   "card_sn": "", "begntime": "2026-11-25 10:00:00", "psn_cert_type": "01",
                                   "certno": "370502198001010011", "psn_name": "张三"}},
                 {"mdtrt_cert_type": "02", "mdtrt_cert_no": "370502198001010011"},
                 PersonQuery(mdtrt_cert_type="02", mdtrt_cert_no="370502198001010011"), id="1101"),
    pytest.param("2103", {"data": {"setl_id": "SETL0000000001", "mdtrt_id": "MDTRT0000000001", "psn_no": "DR"}},
                 {"setl_id": "SETL0000000001", "psn_no": "DR", "mdtrt_id": "MDTRT0000000001"},
                 Cancel(setl_id="SETL0000000001", psn_no="DR", mdtrt_id="MDTRT0000000001"), id="2103"),
    pytest.param("2208", {"data": {"setl_id": "SETL0000000001", "mdtrt_id": "", "psn_no": "DR"}},
                 {"setl_id": "SETL0000000001", "psn_no": "DR"},
                 Cancel(setl_id="SETL0000000001", psn_no="DR"), id="2208-blank-mdtrt_id"),
    pytest.param("2601", {"data": {"psn_no": "DR", "omsgid": "P37050000001202611251000000001", "oinfno": "2102"}},
                 {"psn_no": "DR", "omsgid": "P37050000001202611251000000001", "oinfno": "2102"},
                 Reverse(psn_no="DR", omsgid="P37050000001202611251000000001", oinfno="2102"), id="2601"),
]


@pytest.mark.parametrize(("infno", "national", "v1", "model"), LAYOUTS)
def test_national_and_v1_layouts_read_the_same(infno: str, national: dict[str, Any], v1: dict[str, Any],
                                               model: Any) -> None:
    """The platform's data{...} layout and the v1 layout validate to the same model."""
    assert validated(infno, national) == model
    assert validated(infno, v1) == model


@pytest.mark.parametrize(("infno", "input_", "loc", "msg"), [
    ("2103", {"data": {"mdtrt_id": "M1", "psn_no": "DR"}}, ["input", "data", "setl_id"], "Field required"),
    ("2208", {"data": {"setl_id": "", "psn_no": "DR"}}, ["input", "data", "setl_id"], "Field required"),
    ("2103", {"psn_no": "DR"}, ["input", "setl_id"], "Field required"),
    ("2601", {"data": {"psn_no": "DR", "omsgid": "M", "oinfno": 2102}}, ["input", "data", "oinfno"],
     "Input should be a valid string"),
    ("1101", {"data": {"mdtrt_cert_type": "09", "mdtrt_cert_no": "X"}}, ["input", "data", "mdtrt_cert_type"],
     "Input should be '01', '02' or '03'"),
    ("1101", {"data": "02"}, ["input", "data"], "Input should be a valid dictionary"),
    ("2103", "{not json", ["input"], "input is a string but not JSON: "
     "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("2103", "[1, 2]", ["input"], "input is a string holding an array, not an object"),
])
def test_errors_name_the_field_where_the_sender_put_it(infno: str, input_: Any, loc: list[Any], msg: str) -> None:
    """INVALID_REQUEST names input.data.<field> for the platform's layout, input.<field> for v1."""
    rejected = rejection(infno, input_)
    assert rejected.code is Code.INVALID_REQUEST
    assert rejected.errors is not None and rejected.errors[0] == {"loc": loc, "msg": msg}
    assert rejected.err_msg.startswith(".".join(str(part) for part in loc) + ": ")


def test_blank_optional_fields_are_absent_at_every_level() -> None:
    """"" in insutype, med_type and unknown fields of druginfo means absent, not an invalid code."""
    model = validated("2102", {"druginfo": {
        "psn_no": "DR", "mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR", "medfee_sumamt": "80.00",
        "acct_used_flag": "1", "insutype": "", "med_type": "", "invono": "", "begntime": "2026-11-25 10:00:00"},
        "drugdetail": [{"feedetl_sn": "1", "med_list_codg": "XA01", "medins_list_codg": "", "cnt": 2,
                        "pric": "40.00", "det_item_fee_sumamt": "80.00", "rxno": ""}]})
    assert isinstance(model, PharmacySettle)
    assert (model.druginfo.insutype, model.druginfo.med_type, model.druginfo.medfee_sumamt) == (None, None, 8000)


def test_input_as_a_json_string_is_the_object_it_holds() -> None:
    """input "{...}" (a string) validates as the object, with decimals kept exact, and fingerprints the same."""
    inner = {"druginfo": {"psn_no": "DR", "mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDR",
                          "medfee_sumamt": 80.1, "acct_used_flag": "1"}}
    as_string, as_object = request("2102", json.dumps(inner)), request("2102", inner)
    assert checked(as_string).druginfo.medfee_sumamt == 8010
    assert fingerprint("2102", as_string.raw_input) == fingerprint("2102", as_object.raw_input)


def test_the_two_layouts_are_different_content_for_idempotency() -> None:
    """The fingerprint is the input as sent: the same msgid in the other layout is other content."""
    v1 = request("2103", {"setl_id": "S1", "psn_no": "DR"})
    national = request("2103", {"data": {"setl_id": "S1", "psn_no": "DR"}})
    assert fingerprint("2103", v1.raw_input) != fingerprint("2103", national.raw_input)


def test_national_envelope_fields_are_accepted_as_text_and_kept() -> None:
    """The platform's envelope fields pass, numbers become their text, blanks are absent."""
    envelope = request("2103", {"setl_id": "S1", "psn_no": "DR"}, **NATIONAL_ENVELOPE).envelope
    assert (envelope.mdtrtarea_admvs, envelope.opter_type, envelope.opter_name, envelope.signtype) == (
        "370500", "1", "收银员", "SM2")
    assert (envelope.dev_no, envelope.cainfo, envelope.sign_no, envelope.fixmedins_name) == (
        None, None, "SIGN0001", "东营大药房")


def test_blank_fixmedins_code_is_missing() -> None:
    """fixmedins_code "" on the pos channel is the missing institution code, named."""
    with pytest.raises(RequestRejected) as caught:
        request("2103", {}, fixmedins_code="")
    assert caught.value.errors == [{"loc": ["fixmedins_code"],
                                    "msg": "required on the pos channel (the institution code)"}]


def test_a_duration_too_long_for_any_clock_is_invalid_not_a_crash() -> None:
    """admin.clock advance 1e20 seconds is INVALID_REQUEST naming input.advance (it raised OverflowError)."""
    payload = json.dumps({"infno": "admin.clock", "msgid": "c1", "input": {"advance": 1e20}}).encode()
    with pytest.raises(RequestRejected) as caught:
        checked(parse_request("admin", "admin", payload))
    assert caught.value.errors == [{"loc": ["input", "advance"], "msg": "must be a finite duration of at most "
                                    "6324480000 s (200 years), got Decimal('1E+20')"}]
