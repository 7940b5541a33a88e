"""The POS terminal over the HTTP door (real aiohttp client, real switch on 127.0.0.1), as national tills do."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from terminal.clients.admin import Admin, HttpAdmin
from terminal.clients.http import HttpStatus, Unreachable
from terminal.clients.mqtt import Refused
from terminal.clients.pace import JumpPace
from terminal.clients.pos import Card, Step, Terminal
from terminal.clients.state import TerminalState
from tests.support.families import DONGYING, cert
from tests.support.switches import InProcessSwitch, in_process_switch

PHARMACY = "P37050000001"


@pytest.fixture
async def door(amqtt_url: str, topic_root: str, tmp_path: Path) -> AsyncIterator[InProcessSwitch]:
    """A switch with its HTTP door on a free port (the broker only carries the test's admin helpers)."""
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "ledger.db") as running:
        assert running.http.startswith("http://127.0.0.1:")
        yield running


def till(door: InProcessSwitch, state_dir: Path, **kw: object) -> Terminal:
    return Terminal(door.http, "T1", PHARMACY, state_dir=state_dir, **kw)  # type: ignore[arg-type]


def platform_shaped(msgid: str) -> bool:
    return len(msgid) == 30 and msgid.startswith(PHARMACY) and msgid[12:].isdigit()


async def test_a_swipe_over_http_settles_with_platform_msgids(door: InProcessSwitch, tmp_path: Path) -> None:
    """1101, 2101, 2102 over HTTP: settled from the own account, national setlinfo, msgids of the platform's shape."""
    steps: list[Step] = []
    async with HttpAdmin(door.http) as admin:
        await admin.load(**DONGYING)
        async with till(door, tmp_path, on_step=steps.append) as t:
            swipe = await t.swipe(Card("01", cert("DH")), "10.00")
        assert swipe.status == "settled" and swipe.answer is not None
        info = swipe.answer["output"]["setlinfo"]
        assert (info["setl_id"], info["mdtrt_id"], info["acct_pay"], info["psn_part_amt"], info["balc"]) == (
            "SETL0000000001", "MDTRT0000000001", "10.00", "10.00", "490.00")
        assert info["medins_setl_id"] == swipe.msgid
        assert (swipe.answer["infcode"], swipe.answer["err_msg"], swipe.answer["warn_msg"]) == (0, None, None)
        assert await admin.balances("DH") == {"DH": "490.00", "DR": "0.00", "DE": "30.00"}
    sent = [(s.infno, str(s.msgid)) for s in steps if s.kind == "send"]
    assert [infno for infno, _ in sent] == ["1101", "2101", "2102"]
    assert all(platform_shaped(m) for _, m in sent) and len({m for _, m in sent}) == 3
    answers = [s.answer for s in steps if s.kind == "answer"]
    assert all(a is not None and a["warn_msg"] is None for a in answers)
    assert t.state.pending() == []


async def test_the_retry_window_over_http(door: InProcessSwitch, tmp_path: Path) -> None:
    """The prompt, then the swipe again 1m later inside the window: the holder pays, all over the national door."""
    async with HttpAdmin(door.http) as admin:
        await admin.load(**DONGYING)
        async with till(door, tmp_path, pace=JumpPace(admin)) as t:
            checkout = await t.checkout(Card("01", cert("DR")), "80.00", retry_after=[timedelta(minutes=1)])
        first, again = checkout.swipes
        prompt = first.prompt
        assert prompt is not None and (prompt.shortfall, prompt.holder) == ("80.00", "DH")
        assert prompt.expires_at - prompt.declined_at == timedelta(minutes=5)
        assert again.status == "settled" and checkout.setlinfo is not None
        assert (checkout.setlinfo["acct_mulaid_pay"], checkout.setlinfo["mulaid_psn_no"]) == ("80.00", "DH")
        assert (await admin.balances("DH"))["DH"] == "420.00"
        assert (await admin.audit())["ok"] is True


async def test_a_dropped_settlement_answer_is_reversed_under_the_reserved_msgid(door: InProcessSwitch,
                                                                                tmp_path: Path) -> None:
    """drop_response on the 2102: the connection ends, the till sends 2601 (data{...}) once, never the 2102 again."""
    steps: list[Step] = []
    async with HttpAdmin(door.http) as admin:
        await admin.load(**DONGYING)
        rule = {"match": {"terminal_id": PHARMACY, "infno": "2102"}, "action": "drop_response", "times": 1}
        await admin.call("admin.faults", {"rules": [rule]})
        async with till(door, tmp_path, on_step=steps.append, reversal_backoff=(0.1, 0.5)) as t:
            swipe = await t.swipe(Card("01", cert("DH")), "50.00")
        assert swipe.status == "reversed" and swipe.code == "NO_ANSWER" and swipe.answer is not None
        out = swipe.answer["output"]
        assert (swipe.answer["code"], out["reversed"], out["omsgid"]) == ("OK", True, swipe.msgid)
        assert (out["setlinfo"]["acct_pay"], out["setlinfo"]["balc"]) == ("-50.00", "500.00")
        assert (await admin.balances("DH"))["DH"] == "500.00"
        assert (await admin.audit())["ok"] is True
    sent = [(s.infno, s.msgid) for s in steps if s.kind == "send"]
    assert [m for i, m in sent if i == "2102"] == [swipe.msgid], "a settlement must never be re-sent"
    reversals = [m for i, m in sent if i == "2601"]
    assert len(reversals) == 1 and platform_shaped(str(reversals[0]))
    assert t.state.pending() == []


async def test_a_reversal_owed_over_mqtt_waits_for_that_door(door: InProcessSwitch, tmp_path: Path) -> None:
    """A 2601 reverses msgids of its own door: one owed over MQTT is kept, not sent over HTTP; then MQTT sends it."""
    owed = TerminalState(tmp_path, "T1").arm_settlement("2102", "DH")
    steps: list[Step] = []
    async with till(door, tmp_path, on_step=steps.append) as t:
        assert [p.msgid for p in t.state.pending()] == [owed.msgid]
    assert [s.kind for s in steps] == ["recover"] and "over mqtt" in steps[0].text
    async with Admin(door.url, root=door.root) as admin:
        await admin.load(**DONGYING)
        async with Terminal(door.url, "T1", PHARMACY, root=door.root, state_dir=tmp_path) as mqtt_till:
            assert mqtt_till.state.pending() == []


async def test_admin_over_http_raises_refused_with_the_code(door: InProcessSwitch) -> None:
    """POST /gongji/v1/admin: helpers return outputs; a failure code is Refused naming it."""
    async with HttpAdmin(door.http) as admin:
        assert (await admin.clock())["virtual"] is True
        with pytest.raises(Refused) as refused:
            await admin.credit("NOBODY", "1.00")
        assert refused.value.code == "PERSON_NOT_FOUND"


async def test_nothing_listening_is_unreachable_at_once(tmp_path: Path) -> None:
    """A URL where nothing listens: Unreachable naming the address, before any timeout."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        async with Terminal(f"http://127.0.0.1:{port}", "T1", PHARMACY, state_dir=tmp_path, timeout=30) as t:
            with pytest.raises(Unreachable, match=f"nothing answers at http://127.0.0.1:{port}"):
                await t.read_card(Card("01", "QRDH"))


async def test_a_url_that_is_not_the_door_says_its_status(door: InProcessSwitch, tmp_path: Path) -> None:
    """A path the door does not serve: HttpStatus 404, not a timeout or a silent retry."""
    async with Terminal(door.http + "/not/a/till", "T1", PHARMACY, state_dir=tmp_path) as t:
        with pytest.raises(HttpStatus) as status:
            await t.read_card(Card("01", "QRDH"))
    assert status.value.status == 404


def test_terminals_of_one_institution_never_share_a_platform_msgid(tmp_path: Path) -> None:
    """National msgids come from the institution's counter: two tills, one second, a clock set back, a full second."""
    from datetime import datetime

    from terminal.clients.state import CHINA

    now = [datetime(2026, 11, 25, 10, 0, 0, tzinfo=CHINA)]
    t1 = TerminalState(tmp_path, "T1", national=PHARMACY, wall_clock=lambda: now[0])
    t2 = TerminalState(tmp_path, "T2", national=PHARMACY, wall_clock=lambda: now[0])
    assert [t1.next_msgid(), t2.next_msgid()] == [f"{PHARMACY}202611251000000001", f"{PHARMACY}202611251000000002"]
    pending = t2.arm_settlement("2102", "DH")
    assert (pending.omsgid, pending.msgid, pending.door) == (
        f"{PHARMACY}202611251000000003", f"{PHARMACY}202611251000000004", "http")
    now[0] -= timedelta(hours=1)  # the till's clock set back: the counter never goes back with it
    assert t1.next_msgid() == f"{PHARMACY}202611251000000005"
    counter = tmp_path / f"{PHARMACY}.national.json"
    counter.write_text(json.dumps({**json.loads(counter.read_text()), "time": "20261125100000", "seq": 9999}))
    assert t1.next_msgid() == f"{PHARMACY}202611251000010001"
    assert json.loads((tmp_path / "T2.json").read_text())["pending"][0]["door"] == "http"
