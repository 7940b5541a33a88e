"""The HTTP door over real HTTP: every path shape, the national envelope, idempotency, both doors sharing a window."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switch.wire.national import platform_time
from tests.support.families import DONGYING, cert, pharmacy_input
from tests.support.http import CALL_SERVICE, FIXMEDINS, HttpClient, http_client, national
from tests.support.switches import InProcessSwitch, in_process_switch


@pytest.fixture
async def door(amqtt_url: str, topic_root: str, tmp_path: Path) -> AsyncIterator[tuple[InProcessSwitch, HttpClient]]:
    """A switch with its HTTP door on a free port (virtual clock at 2026-11-25 10:00 China time), Dongying loaded."""
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "ledger.db") as live, \
            http_client(live.http) as client:
        loaded = await client.admin("admin.load", DONGYING)
        assert loaded["code"] == "OK", loaded
        yield live, client


@pytest.mark.parametrize("path", [CALL_SERVICE, "/mbs/fmi/fsi/api/callFsiService/callService", "/csb/2102",
                                  "/ebus/gdyb_api/prd/hsa/hgs/2102", "/1.0.0/hsa-fsi-2102"])
async def test_every_path_shape_settles(door: tuple[InProcessSwitch, HttpClient], path: str) -> None:
    """Each province's URL shape reaches 2102: the employee DE pays 30.00 of 30.00 from her own account."""
    _, client = door
    answer = await client.call("2102", pharmacy_input("DE", "30.00"), path=path)
    assert (answer["infcode"], answer["code"], answer["err_msg"]) == (0, "OK", None)
    assert answer["output"]["setlinfo"]["acct_pay"] == "30.00"


async def test_a_path_code_that_differs_from_the_envelope_is_invalid_request(
        door: tuple[InProcessSwitch, HttpClient]) -> None:
    """/csb/2102 with infno 2101: INVALID_REQUEST naming infno, nothing moved (DE keeps 30.00)."""
    _, client = door
    answer = await client.call("2101", pharmacy_input("DE", "30.00"), path="/csb/2102")
    assert (answer["infcode"], answer["code"]) == (-1, "INVALID_REQUEST")
    assert answer["output"]["errors"] == [
        {"loc": ["infno"], "msg": "the path names transaction 2102, the envelope 2101"}]
    state = await client.admin("admin.state")
    assert {p["psn_no"]: p["balc"] for p in state["output"]["people"]}["DE"] == "30.00"


async def test_a_coded_path_supplies_a_missing_infno(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """/csb/2102 with no infno in the envelope settles as 2102 (DE pays 12.00 from 30.00, 18.00 left)."""
    _, client = door
    envelope = national("2102", pharmacy_input("DE", "12.00"))
    del envelope["infno"]
    answer = await client.post("/csb/2102", envelope)
    assert (answer["code"], answer["output"]["setlinfo"]["acct_pay"]) == ("OK", "12.00")
    assert answer["output"]["setlinfo"]["balc"] == "18.00"


async def test_the_national_answer_envelope(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """1101: exactly the platform's fields in its order, a 30-digit id from the region, China times, stas "1"."""
    live, client = door
    now = platform_time(live.clock.now())  # the virtual clock is frozen: received and answered at once
    answer = await client.call("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH")})
    assert list(answer) == ["infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "warn_msg",
                            "cainfo", "signtype", "output", "code"]
    assert re.fullmatch(r"370500\d{24}", answer["inf_refmsgid"]), answer["inf_refmsgid"]
    assert answer["inf_refmsgid"][6:20] == now[:14]
    assert (answer["refmsg_time"], answer["respond_time"]) == (now, now)
    assert (answer["infcode"], answer["err_msg"], answer["warn_msg"], answer["cainfo"], answer["signtype"],
            answer["code"]) == (0, None, None, None, None, "OK")
    assert answer["output"]["insuinfo"][0]["psn_insu_stas"] == "1"
    assert answer["output"]["insuinfo"][0]["balc"] == "500.00"


async def test_suspended_insurance_is_2_on_the_national_door(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """A suspended person's 1101 psn_insu_stas is "2" over HTTP (v1 keeps "suspended" on MQTT)."""
    live, client = door
    assert (await client.admin("admin.set_status", {"psn_no": "DH", "status": "suspended"}))["code"] == "OK"
    answer = await client.call("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH")})
    assert answer["output"]["insuinfo"][0]["psn_insu_stas"] == "2"
    async with live.pos("T1") as pos:
        over_mqtt = await pos.request("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH")})
    assert over_mqtt["output"]["insuinfo"][0]["psn_insu_stas"] == "suspended"


async def test_a_msgid_not_shaped_like_the_platforms_is_processed_with_a_warning(
        door: tuple[InProcessSwitch, HttpClient]) -> None:
    """msgid "pos-1": settled (DE pays 30.00) and warn_msg says it does not start with fixmedins_code."""
    _, client = door
    answer = await client.call("2102", pharmacy_input("DE", "30.00"), msgid="pos-1")
    assert (answer["code"], answer["output"]["setlinfo"]["acct_pay"]) == ("OK", "30.00")
    assert answer["warn_msg"].startswith(f"msgid 'pos-1' does not start with fixmedins_code '{FIXMEDINS}'")


async def test_failures_carry_the_v1_text_and_output(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """A refusal: infcode -1, err_msg the v1 text, output null; POOLING_AVAILABLE keeps its shortfall output."""
    _, client = door
    unknown = await client.call("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRnobody"})
    assert (unknown["infcode"], unknown["code"], unknown["output"]) == (-1, "PERSON_NOT_FOUND", None)
    assert unknown["err_msg"]
    pooling = await client.call("2102", pharmacy_input("DR", "80.00"))
    assert (pooling["infcode"], pooling["code"]) == (-1, "POOLING_AVAILABLE")
    assert pooling["output"]["shortfall"] == "80.00"
    assert "DH" in json.dumps(pooling["output"]) or pooling["err_msg"]


async def test_a_window_opened_over_http_is_used_over_mqtt_and_back(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """DR's 80.00 is declined over HTTP, paid by DH over MQTT (same institution); then the other way round."""
    live, client = door
    first = await client.call("2102", pharmacy_input("DR", "80.00"))
    assert first["code"] == "POOLING_AVAILABLE"
    async with live.pos("T7", fixmedins_code=FIXMEDINS) as pos:
        retry = await pos.request("2102", pharmacy_input("DR", "80.00"))
        assert (retry["code"], retry["output"]["setlinfo"]["acct_mulaid_pay"]) == ("OK", "80.00")
        opened = await pos.request("2102", pharmacy_input("DR", "20.00"))
        assert opened["code"] == "POOLING_AVAILABLE"
    again = await client.call("2102", pharmacy_input("DR", "20.00"))
    assert (again["code"], again["output"]["setlinfo"]["acct_mulaid_pay"]) == ("OK", "20.00")
    state = await client.admin("admin.state")
    assert {p["psn_no"]: p["balc"] for p in state["output"]["people"]}["DH"] == "400.00"


async def test_reversal_on_the_national_door_reverses_its_own_msgid(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """2601 over HTTP undoes the HTTP 2102 it names: DE's 30.00 comes back."""
    _, client = door
    envelope = national("2102", pharmacy_input("DE", "30.00"))
    settled = await client.post(CALL_SERVICE, envelope)
    assert settled["code"] == "OK"
    reversed_ = await client.call("2601", {"psn_no": "DE", "omsgid": envelope["msgid"], "oinfno": "2102"})
    assert reversed_["code"] == "OK", reversed_
    state = await client.admin("admin.state")
    assert {p["psn_no"]: p["balc"] for p in state["output"]["people"]}["DE"] == "30.00"


async def test_admin_and_app_paths_answer_v1(door: tuple[InProcessSwitch, HttpClient]) -> None:
    """POST /gongji/v1/app/DH: app.bindings in the v1 envelope (inf_refmsgid = msgid), DR and DE listed."""
    _, client = door
    answer = await client.post("/gongji/v1/app/DH", {"infno": "app.bindings", "msgid": "app-1", "input": {}})
    assert (answer["inf_refmsgid"], answer["code"], answer["err_msg"]) == ("app-1", "OK", "success")
    assert sorted(r["psn_no"] for r in answer["output"]["relatives"]) == ["DE", "DR"]
