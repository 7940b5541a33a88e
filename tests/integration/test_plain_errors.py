"""Refusals that say what is wrong in the wire's words, and the leniencies the switch refuses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.service_helpers import Driver, make_switch
from tests.support.families import ZIBO, pharmacy_input
from tests.unit.core_helpers import T0

TOKEN = "s3cret"


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[Driver]:
    switch = make_switch(tmp_path / "ledger.db", token=TOKEN)
    await switch.start()
    d = Driver(switch)
    assert (await d.admin("admin.load", ZIBO, token=TOKEN))["code"] == "OK"
    yield d
    await switch.stop()


async def balances(driver: Driver) -> dict[str, str]:
    state = await driver.admin("admin.state", token=TOKEN)
    return {p["psn_no"]: p["balc"] for p in state["output"]["people"]}


@pytest.mark.parametrize(("envelope", "err_msg"), [
    ({}, 'admin token missing: this switch was started with --admin-token; send it in the envelope\'s "token" '
         'field'),
    ({"token": ""}, 'admin token missing: this switch was started with --admin-token; send it in the '
                    'envelope\'s "token" field'),
    ({"tokn": TOKEN}, 'admin token missing: unknown field "tokn", did you mean "token"?'),
    ({"Token": TOKEN}, 'admin token missing: unknown field "Token", did you mean "token"?'),
    ({"token": "s3cre7"}, 'admin token wrong: the envelope\'s "token" is not the one this switch was started '
                          'with (--admin-token)'),
])
async def test_a_refused_admin_token_says_missing_misspelt_or_wrong(
        driver: Driver, envelope: dict[str, str], err_msg: str) -> None:
    """UNAUTHORIZED tells a missing token, a misspelt field and a wrong token apart; the credit is not made."""
    answer = await driver.admin("admin.credit", {"psn_no": "ZH", "amount": "5.00"}, **envelope)
    assert (answer["code"], answer["err_msg"], answer["output"]) == ("UNAUTHORIZED", err_msg, {})
    assert (await balances(driver))["ZH"] == "200.00"


@pytest.mark.parametrize(("amount", "msg"), [
    ("80.001", "80.001 has more than two decimals; amounts have at most two decimals"),
    ('"80.001"', '"80.001" has more than two decimals; amounts have at most two decimals'),
    ("null", 'null is not an amount; send a string or number such as "80.00"'),
    ('" 80.00"', '" 80.00" has spaces around the amount; send "80.00"'),
    ('"80.00 "', '"80.00 " has spaces around the amount; send "80.00"'),
])
async def test_a_refused_amount_is_quoted_as_it_was_sent(driver: Driver, amount: str, msg: str) -> None:
    """medfee_sumamt 80.001, null or " 80.00" is INVALID_REQUEST quoting the JSON as sent; nothing settles."""
    body = {"infno": "2102", "msgid": "amt-1", "fixmedins_code": "P1", "input": pharmacy_input("ZR", "AMOUNT")}
    payload = json.dumps(body).replace('"AMOUNT"', amount).encode()
    answer = json.loads(await driver.raw("pos", payload))
    loc = ["input", "druginfo", "medfee_sumamt"]
    assert (answer["code"], answer["output"]["errors"]) == ("INVALID_REQUEST", [{"loc": loc, "msg": msg}])
    assert answer["err_msg"] == f"input.druginfo.medfee_sumamt: {msg}"
    assert (await balances(driver))["ZH"] == "200.00"


async def test_a_clock_set_without_a_zone_is_refused_and_the_clock_stays(driver: Driver) -> None:
    """admin.clock {"set": "2026-11-25 09:00"} is INVALID_REQUEST at input.set; with +08:00 it moves the clock."""
    refused = await driver.admin("admin.clock", {"set": "2026-11-25 09:00"}, token=TOKEN)
    msg = "2026-11-25 09:00:00 has no time zone; write it as 2026-11-25T09:00:00+08:00 (China time)"
    assert (refused["code"], refused["output"]["errors"]) == ("INVALID_REQUEST", [{"loc": ["input", "set"],
                                                                                     "msg": msg}])
    assert (await driver.admin("admin.clock", token=TOKEN))["output"]["now"] == T0.isoformat(timespec="milliseconds")
    moved = await driver.admin("admin.clock", {"set": "2026-11-25T09:00:00+08:00"}, token=TOKEN)
    assert moved["output"]["now"] == "2026-11-25T09:00:00.000+08:00"
