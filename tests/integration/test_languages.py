"""One language rule: the platform's Chinese for pos and app outcomes, English for the switch's own diagnostics."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switch.core.codes import Code
from switch.wire.outputs import CODE_WHEN
from tests.integration.service_helpers import Driver, make_switch
from tests.support.families import ZIBO, cert, pharmacy_input

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[Driver]:
    switch = make_switch(tmp_path / "ledger.db")
    await switch.start()
    d = Driver(switch)
    assert (await d.admin("admin.load", ZIBO))["err_msg"] == "success"
    yield d
    await switch.stop()


async def test_platform_outcomes_are_chinese_from_1101_to_the_app(driver: Driver) -> None:
    """1101, 2101, 2102, 2103 and the app's reads answer err_msg in Chinese, successes included."""
    person = await driver.pos("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("ZR")})
    pre = await driver.pos("2101", pharmacy_input("ZR", "30.00"))
    settled = await driver.pos("2102", pharmacy_input("ZR", "30.00"))
    cancel = await driver.pos("2103", {"setl_id": settled["output"]["setlinfo"]["setl_id"], "psn_no": "ZR"})
    family = await driver.send("app", "app.bindings", sender="ZH")
    records = await driver.send("app", "app.records", sender="ZH")
    answers = [person, pre, settled, cancel, family, records]
    assert [a["code"] for a in answers] == ["OK"] * 6
    assert [a["err_msg"] for a in answers] == ["查询成功", "预结算成功", "结算成功", "撤销成功", "查询成功", "查询成功"]
    refused = await driver.pos("2102", pharmacy_input("ZH", "10.00", mdtrt_cert_no=cert("ZR")))
    assert refused["code"] == "CERT_MISMATCH" and CHINESE.search(refused["err_msg"])


async def test_the_switchs_own_diagnostics_and_the_admin_channel_are_english(driver: Driver) -> None:
    """A field error, an unknown infno and every admin answer carry English err_msg, no Chinese."""
    bad = await driver.pos("2102", pharmacy_input("ZR", "0.001"))
    unknown = await driver.pos("9999", {})
    state = await driver.admin("admin.state")
    texts = [bad["err_msg"], unknown["err_msg"], state["err_msg"]]
    assert [bad["code"], unknown["code"], state["code"]] == ["INVALID_REQUEST", "UNKNOWN_INFNO", "OK"]
    assert [t for t in texts if CHINESE.search(t)] == [], texts
    assert state["err_msg"] == "success"


def test_every_code_has_one_english_gloss_listed_in_protocol_md() -> None:
    """CODE_WHEN glosses every code in English, and protocol.md's code table names every code."""
    assert set(CODE_WHEN) == set(Code)
    assert [c for c, gloss in CODE_WHEN.items() if CHINESE.search(gloss) or not gloss] == []
    table = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8").split("## Codes", 1)[1]
    assert [c.value for c in Code if f"`{c.value}`" not in table] == []
