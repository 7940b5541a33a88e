"""The admin token end to end: with ``--admin-token`` every admin request needs it, and a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.families import ZIBO
from tests.support.switches import SwitchProcess

TOKEN = "s3cret-token"
EVERY_ADMIN_REQUEST = [
    ("admin.load", ZIBO), ("admin.reset", {}), ("admin.credit", {"psn_no": "ZH", "amount": "1.00"}),
    ("admin.set_status", {"psn_no": "ZH", "status": "suspended"}), ("admin.clock", {"advance": "1m"}),
    ("admin.faults", {"rules": [{"action": "drop_request"}]}), ("admin.state", {}), ("admin.audit", {}),
    ("admin.policy", {}),
]


@pytest.fixture
def guarded(broker_url: str, topic_root: str, tmp_path: Path) -> Iterator[SwitchProcess]:
    process = SwitchProcess("--broker", broker_url, "--db", str(tmp_path / "ledger.db"), "--clock", "virtual",
                            "--topic-root", topic_root, "--admin-token", TOKEN, "--log-level", "WARNING").start()
    yield process
    assert process.terminate() == 0


async def test_every_admin_request_needs_the_token(guarded: SwitchProcess, broker_url: str, topic_root: str) -> None:
    """No token or a wrong one: UNAUTHORIZED on every admin infno, nothing moves; the right token works."""
    async with SwitchClient(broker_url, "admin", root=topic_root, token=TOKEN) as admin, \
            SwitchClient(broker_url, "admin", root=topic_root) as anonymous, \
            SwitchClient(broker_url, "admin", root=topic_root, token="s3cret-tokem") as wrong:
        assert (await admin.request("admin.load", ZIBO))["code"] == "OK"
        for client in (anonymous, wrong):
            for infno, body in EVERY_ADMIN_REQUEST:
                answer = await client.request(infno, body)
                assert (answer["code"], answer["infcode"]) == ("UNAUTHORIZED", -1), infno
                assert answer["output"] == {}
        state = await admin.request("admin.state", {"psn_no": "ZH"})
        assert {p["psn_no"]: (p["balc"], p["status"]) for p in state["output"]["people"]} == {
            "ZH": ("200.00", "active"), "ZR": ("0.00", "active")}
        assert (await admin.request("admin.faults"))["output"]["rules"] == []
        assert state["output"]["now"] == (await admin.request("admin.clock"))["output"]["now"]


async def test_a_refused_msgid_can_be_resent_with_the_token(
        guarded: SwitchProcess, broker_url: str, topic_root: str) -> None:
    """UNAUTHORIZED is not recorded: the same msgid sent again with the token is processed."""
    async with SwitchClient(broker_url, "admin", root=topic_root, token=TOKEN) as admin, \
            SwitchClient(broker_url, "admin", root=topic_root) as anonymous:
        await admin.request("admin.load", ZIBO)
        refused = await anonymous.request("admin.credit", {"psn_no": "ZH", "amount": "5.00"}, msgid="credit-1")
        assert refused["code"] == "UNAUTHORIZED"
        accepted = await admin.request("admin.credit", {"psn_no": "ZH", "amount": "5.00"}, msgid="credit-1")
        assert (accepted["code"], accepted["output"]["balc"]) == ("OK", "205.00")
