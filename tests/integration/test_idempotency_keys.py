"""Idempotency is keyed by (channel, sender, msgid): one sender's msgid never collides with another's."""

from __future__ import annotations

from pathlib import Path

from tests.support.direct import direct_switch
from tests.support.families import ZIBO, pharmacy_input
from tests.support.switches import InProcessSwitch


async def test_same_msgid_from_two_terminals_is_two_requests(tmp_path: Path) -> None:
    """T1 and T2 both send msgid "M-1" with different amounts: both settle, each replays its own answer."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        one = await sw.pos("T1", "2102", pharmacy_input("ZR", "10.00"), msgid="M-1")
        two = await sw.pos("T2", "2102", pharmacy_input("ZR", "25.00"), msgid="M-1")
        assert (one["code"], two["code"]) == ("OK", "OK")
        assert one["output"]["setlinfo"]["setl_id"] != two["output"]["setlinfo"]["setl_id"]
        assert (await sw.pos("T1", "2102", pharmacy_input("ZR", "10.00"), msgid="M-1")) == one
        assert (await sw.pos("T2", "2102", pharmacy_input("ZR", "25.00"), msgid="M-1")) == two
        assert (await sw.balances())["ZH"] == "165.00"


async def test_same_msgid_on_every_channel_is_independent(tmp_path: Path) -> None:
    """An admin msgid equal to a terminal's does not replay the terminal's answer, nor the reverse."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO, msgid="X")
        settled = await sw.pos("T1", "2102", pharmacy_input("ZR", "10.00"), msgid="X")
        credited = await sw.admin("admin.credit", {"psn_no": "ZH", "amount": "1.00"}, msgid="Y")
        again = await sw.pos("T1", "2102", pharmacy_input("ZR", "10.00"), msgid="Y")
        assert settled["code"] == credited["code"] == again["code"] == "OK"
        assert (await sw.balances())["ZH"] == "181.00"


async def test_same_msgid_with_other_content_is_duplicate_only_for_that_sender(tmp_path: Path) -> None:
    """DUPLICATE_MSGID is per sender: T1 reusing its msgid is refused, T2 using it is fine."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        await sw.pos("T1", "2102", pharmacy_input("ZR", "10.00"), msgid="M-1")
        reused = await sw.pos("T1", "2102", pharmacy_input("ZR", "99.00"), msgid="M-1")
        fresh = await sw.pos("T2", "2102", pharmacy_input("ZR", "99.00"), msgid="M-1")
        assert (reused["code"], fresh["code"]) == ("DUPLICATE_MSGID", "OK")


async def test_answers_go_only_to_the_requesting_terminal(live: InProcessSwitch) -> None:
    """Over a real broker, T2 listening on its own resp topic hears nothing of T1's traffic."""
    async with live.client("admin") as admin, live.pos("T1") as t1, live.pos("T2") as t2:
        await admin.request("admin.load", ZIBO)
        answer = await t1.request("2102", pharmacy_input("ZR", "10.00"), msgid="M-1")
        await t1.request("2102", pharmacy_input("ZR", "10.00"), msgid="M-1")
        assert answer["code"] == "OK"
        await t2.request("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"})
        assert t2.unmatched.empty() and t1.unmatched.empty()
