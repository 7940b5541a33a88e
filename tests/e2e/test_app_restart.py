"""The switch as a real subprocess: what the member app changed survives kill -9 and a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.families import DONGYING, person
from tests.support.switches import SwitchProcess

pytestmark = pytest.mark.e2e
FACE = {"face_verified": True}


Step = tuple[str, str, dict[str, Any], str]


async def _apps(url: str, root: str, steps: list[Step]) -> list[dict[str, Any]]:
    """Run (caller, infno, input, msgid) steps, each on the caller's own app topic."""
    answers = []
    for caller, infno, body, msgid in steps:
        async with SwitchClient(url, "app", caller, root=root, timeout=10) as app:
            answers.append(await app.request(infno, body, msgid=msgid))
    return answers


async def test_app_changes_survive_kill(broker_url: str, topic_root: str, tmp_path: Path) -> None:
    """Bind, cap, premium and unbind are on disk: after SIGKILL the family and recorded replies are intact."""
    args = ("--broker", broker_url, "--db", str(tmp_path / "ledger.db"), "--topic-root", topic_root,
            "--clock", "virtual", "--log-level", "WARNING")
    steps: list[Step] = [
        ("DH", "app.bind", {"relative_psn_no": "X1", "rltn": "spouse_parent", **FACE}, "m1"),
        ("DH", "app.set_cap", {"relative_psn_no": "X1", "cap": "88.00"}, "m2"),
        ("DH", "app.pay_premium", {"relative_psn_no": "DR", "year": 2027, "amount": "100.00"}, "m3"),
        ("DH", "app.unbind", {"relative_psn_no": "DE", **FACE}, "m4")]
    switch = await asyncio.to_thread(SwitchProcess(*args).start)
    try:
        async with SwitchClient(broker_url, "admin", root=topic_root, timeout=10) as admin:
            load = {"people": [*DONGYING["people"], person("X1", "370500")], "bindings": DONGYING["bindings"]}
            assert (await admin.request("admin.load", load))["code"] == "OK"
        before = await _apps(broker_url, topic_root, steps)
        assert [a["code"] for a in before] == ["OK"] * 4
        switch.kill()
        switch = await asyncio.to_thread(SwitchProcess(*args).start)
        replayed = await _apps(broker_url, topic_root, steps)
        assert replayed == before
        checks: list[Step] = [
            ("DH", "app.bindings", {}, "m5"),
            ("DH", "app.pay_premium", {"relative_psn_no": "DR", "year": 2027, "amount": "1.00"}, "m6")]
        after = await _apps(broker_url, topic_root, checks)
        view = after[0]["output"]["relatives"]
        assert [(r["psn_no"], r["rltn"], r["cap"]) for r in view] == [("DR", "child", None),
                                                                       ("X1", "spouse_parent", "88.00")]
        assert after[1]["code"] == "PREMIUM_ALREADY_PAID"
        async with SwitchClient(broker_url, "admin", root=topic_root, timeout=10) as admin:
            state = (await admin.request("admin.state", {"psn_no": "DH"}))["output"]
            assert {p["psn_no"]: p["balc"] for p in state["people"]} == {"DH": "400.00", "DR": "0.00",
                                                                          "X1": "0.00"}
            assert (await admin.request("admin.audit"))["output"]["ok"] is True
    finally:
        switch.kill()
