"""The HTTP door's routing and the answer forms, pure: paths to (channel, sender, infno), answers to bytes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from switch.core.codes import Code
from switch.doors.http import parse_http_address, route_of
from switch.errors import ConfigError
from switch.service.clock import CST
from switch.service.forms import Asked, NationalForm, v1_answer
from switch.wire.inputs import Envelope
from switch.wire.national import RefmsgidSource

AT = datetime(2026, 11, 25, 10, 0, 1, 234000, tzinfo=CST)


@pytest.mark.parametrize(("method", "path", "route"), [
    ("POST", "/fsi/api/rsfComIfsService/callService", ("national", "", None)),
    ("POST", "/mbs/fmi/fsi/api/callFsiService/callService", ("national", "", None)),
    ("POST", "/callService", ("national", "", None)),
    ("POST", "/csb/2102", ("national", "", "2102")),
    ("POST", "/ebus/gdyb_api/prd/hsa/hgs/1101", ("national", "", "1101")),
    ("POST", "/1.0.0/hsa-fsi-2601", ("national", "", "2601")),
    ("POST", "/9999", ("national", "", "9999")),
    ("POST", "/gongji/v1/admin", ("admin", "admin", None)),
    ("POST", "/gongji/v1/app/DH", ("app", "DH", None)),
    ("GET", "/gongji/v1/events", ("events", "", None)),
    ("GET", "/csb/2102", 405), ("PUT", "/x/callService", 405), ("POST", "/gongji/v1/events", 405),
    ("GET", "/gongji/v1/app/DH", 405),
    ("POST", "/csb/210", 404), ("POST", "/csb/21020", 404), ("POST", "/csb/2102/", 404),
    ("POST", "/callService/x", 404), ("POST", "/gongji/v1/app/DH/more", 404), ("GET", "/", 404),
    ("POST", "/csb/hsa_2102", 404),
])
def test_routes(method: str, path: str, route: tuple[str, str, str | None] | int) -> None:
    """Each path shape of NATIONAL.md goes where it says; the rest is 404, another method 405."""
    assert route_of(method, path) == route


def test_http_addresses() -> None:
    """HOST:PORT and [v6]:PORT parse, off is no door, anything else is a ConfigError saying what to pass."""
    assert parse_http_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_http_address("[::1]:0") == ("::1", 0)
    assert parse_http_address("off") is None
    for bad in ("8080", "host:", "host:port", "h:70000"):
        with pytest.raises(ConfigError, match="expected HOST:PORT"):
            parse_http_address(bad)


def _national(asked: Asked, code: Code, err: str | None, output: dict[str, object] | None) -> dict[str, object]:
    form = NationalForm(RefmsgidSource(lambda: 0.0))
    decoded = json.loads(form(asked, code, err, output, AT))
    assert isinstance(decoded, dict)
    return decoded


def test_the_national_form() -> None:
    """Success: infcode 0, err_msg null, China times to the millisecond, insurance status as "1", code OK."""
    envelope = Envelope.model_validate({"infno": "1101", "msgid": "P1202611251000000001", "fixmedins_code": "P1"})
    asked = Asked("national", datetime(2026, 11, 25, 10, 0, 0, 5000, tzinfo=CST), "1101", envelope.msgid, envelope)
    answer = _national(asked, Code.OK, None, {"insuinfo": [{"psn_insu_stas": "active"}]})
    assert answer == {"infcode": 0, "inf_refmsgid": "000000202611251000010000000000",
                      "refmsg_time": "20261125100000005", "respond_time": "20261125100001234", "err_msg": None,
                      "warn_msg": None, "cainfo": None, "signtype": None,
                      "output": {"insuinfo": [{"psn_insu_stas": "1"}]}, "code": "OK"}


def test_the_national_form_of_failures() -> None:
    """A refusal: -1, the v1 text, output null unless it has one (errors); a misshaped msgid warns."""
    envelope = Envelope.model_validate({"infno": "2102", "msgid": "m-1", "fixmedins_code": "P1"})
    asked = Asked("national", AT, "2102", "m-1", envelope)
    refused = _national(asked, Code.PERSON_NOT_FOUND, "没有这个人", {})
    assert (refused["infcode"], refused["err_msg"], refused["output"], refused["code"]) == (
        -1, "没有这个人", None, "PERSON_NOT_FOUND")
    assert str(refused["warn_msg"]).startswith("msgid 'm-1' does not start with fixmedins_code 'P1'")
    invalid = _national(Asked("national", AT), Code.INVALID_REQUEST, "payload is not UTF-8 JSON",
                        {"errors": [{"loc": [], "msg": "not JSON"}]})
    assert (invalid["output"], invalid["warn_msg"]) == ({"errors": [{"loc": [], "msg": "not JSON"}]}, None)


def test_the_v1_form_is_unchanged() -> None:
    """v1: inf_refmsgid is the msgid, err_msg "success", ISO respond_time, output {} when there is none."""
    body = v1_answer(Asked("pos", AT, "2102", "T1-1"), Code.OK, None, None, AT)
    assert body == (b'{"infno":"2102","inf_refmsgid":"T1-1","infcode":0,"code":"OK","err_msg":"success",'
                    b'"respond_time":"2026-11-25T10:00:01.234+08:00","output":{}}')
