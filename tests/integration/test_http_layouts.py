"""Every input layout over the HTTP door: the platform's data{...}, input as a JSON string, blanks as absent, v1."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.families import DONGYING, cert, pharmacy_input
from tests.support.http import HttpClient, http_client, national
from tests.support.switches import in_process_switch


@pytest.fixture
async def client(amqtt_url: str, topic_root: str, tmp_path: Path) -> AsyncIterator[HttpClient]:
    """The HTTP door of a switch with the Dongying family loaded (DH 500.00, DE 30.00, DR no account)."""
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db") as live, http_client(live.http) as c:
        assert (await c.admin("admin.load", DONGYING))["code"] == "OK"
        yield c


async def balances(client: HttpClient) -> dict[str, str]:
    state = await client.admin("admin.state")
    return {p["psn_no"]: p["balc"] for p in state["output"]["people"]}


@pytest.mark.parametrize("layout", ["national", "v1", "string"])
async def test_1101_in_every_layout(client: HttpClient, layout: str) -> None:
    """1101 with data{...}, without it, and as a JSON string: DH's card reads the same, region 370500 in the id."""
    query: dict[str, Any] = {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH"), "card_sn": "", "psn_name": ""}
    given: dict[str, Any] | str = {"data": query} if layout == "national" else query
    if layout == "string":
        given = json.dumps({"data": query}, ensure_ascii=False)
    answer = await client.call("1101", given)
    assert (answer["code"], answer["output"]["baseinfo"]["psn_no"]) == ("OK", "DH"), answer
    assert answer["output"]["insuinfo"][0]["psn_insu_stas"] == "1"
    assert re.fullmatch(r"370500\d{24}", answer["inf_refmsgid"])


async def test_settle_cancel_and_reverse_in_the_platform_layouts(client: HttpClient) -> None:
    """2102 with blanks, 2103 with data{setl_id, mdtrt_id, psn_no}, 2207 then 2601 in data{...}: DE back to 30.00."""
    settled = await client.call("2102", pharmacy_input("DE", "10.00", invono="", insutype=""))
    setlinfo = settled["output"]["setlinfo"]
    assert (settled["code"], setlinfo["acct_pay"], setlinfo["psn_part_amt"]) == ("OK", "10.00", "10.00")
    cancel = {"data": {"setl_id": setlinfo["setl_id"], "mdtrt_id": setlinfo["mdtrt_id"], "psn_no": "DE"}}
    cancelled = await client.call("2103", cancel)
    assert cancelled["code"] == "OK", cancelled
    assert (await balances(client))["DE"] == "30.00"
    clinic = national("2207", {"data": {**pharmacy_input("DE", "20.00")["druginfo"], "med_type": "11",
                                        "mdtrt_id": "", "chrg_bchno": ""}})
    visit = await client.post("/csb/2207", clinic)
    visit_info = visit["output"]["setlinfo"]
    assert (visit["code"], visit_info["fund_pay_sumamt"], visit_info["acct_pay"], visit_info["clr_type"]) == (
        "OK", "10.00", "10.00", "11"), visit  # the outpatient fund pays half here, DE's account the rest
    assert (await balances(client))["DE"] == "20.00"
    reversed_ = await client.call("2601", {"data": {"psn_no": "DE", "omsgid": clinic["msgid"], "oinfno": "2207"}})
    assert reversed_["code"] == "OK", reversed_
    assert (await balances(client))["DE"] == "30.00"


async def test_a_blank_required_field_is_named(client: HttpClient) -> None:
    """A blank psn_no is absent, so required: INVALID_REQUEST naming input.druginfo.psn_no, nothing moved."""
    answer = await client.call("2102", pharmacy_input("", "10.00"))
    assert answer["code"] == "INVALID_REQUEST"
    assert ["input", "druginfo", "psn_no"] in [e["loc"] for e in answer["output"]["errors"]]
    assert (await balances(client))["DE"] == "30.00"
