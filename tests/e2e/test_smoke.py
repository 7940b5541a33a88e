"""The switch on a real broker: the retry-window story end to end, on amqtt and on mosquitto."""

from __future__ import annotations

from datetime import timedelta

from tests.support.families import DONGYING, pharmacy_input
from tests.support.switches import InProcessSwitch


async def test_first_swipe_prompts_second_swipe_pools(live: InProcessSwitch) -> None:
    """Dongying: a short relative is declined with the prompt, then pooled inside the window."""
    async with live.client("admin") as admin, live.pos() as pos:
        assert (await admin.request("admin.load", DONGYING))["code"] == "OK"
        first = await pos.request("2102", pharmacy_input("DR", "80.00"))
        assert first["code"] == "POOLING_AVAILABLE" and first["infcode"] == -1
        assert first["err_msg"] == "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费"
        live.clock.advance(timedelta(seconds=299.999))
        second = await pos.request("2102", pharmacy_input("DR", "80.00"))
        info = second["output"]["setlinfo"]
        assert (second["code"], info["acct_mulaid_pay"], info["psn_cash_pay"], info["mulaid_psn_no"]) == (
            "OK", "80.00", "0.00", "DH")
        state = await admin.request("admin.state", {"psn_no": "DH"})
        balances = {p["psn_no"]: p["balc"] for p in state["output"]["people"]}
        assert balances == {"DH": "420.00", "DR": "0.00", "DE": "30.00"}
        assert (await admin.request("admin.audit"))["output"]["ok"] is True
