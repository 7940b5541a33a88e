"""The service on a real SQLite file: idempotency, restarts, bad input and the admin channel."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from switch.service.clock import SystemClock, VirtualClock
from tests.integration.service_helpers import Driver, make_switch
from tests.support.families import DONGYING, ZIBO, pharmacy_input
from tests.unit.core_helpers import T0


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[Driver]:
    switch = make_switch(tmp_path / "ledger.db")
    await switch.start()
    d = Driver(switch)
    assert (await d.admin("admin.load", DONGYING))["code"] == "OK"
    assert (await d.admin("admin.load", ZIBO))["code"] == "OK"
    yield d
    await switch.stop()


def envelope(msgid: str, amount: str = "80.00", psn: str = "ZR") -> bytes:
    return json.dumps({"infno": "2102", "msgid": msgid, "fixmedins_code": "P1",
                       "input": pharmacy_input(psn, amount)}).encode()


async def test_replay_is_byte_identical_and_moves_nothing(driver: Driver) -> None:
    """The same msgid with the same content gets the first answer byte for byte; money moves once."""
    first = await driver.raw("pos", envelope("A-1"))
    driver.switch.clock.advance(timedelta(seconds=3))  # type: ignore[attr-defined]
    again = await driver.raw("pos", envelope("A-1"))
    assert again == first
    assert (await driver.balances())["ZH"] == "120.00"


async def test_same_msgid_other_content_is_duplicate(driver: Driver) -> None:
    """The same msgid with other content is DUPLICATE_MSGID and changes nothing."""
    await driver.raw("pos", envelope("A-2"))
    answer = json.loads(await driver.raw("pos", envelope("A-2", "10.00")))
    assert (answer["code"], answer["infcode"], answer["inf_refmsgid"]) == ("DUPLICATE_MSGID", -1, "A-2")
    assert (await driver.balances())["ZH"] == "120.00"


async def test_msgids_are_per_sender(driver: Driver) -> None:
    """One terminal's msgid never collides with another's: both settle."""
    a = json.loads(await driver.raw("pos", envelope("X"), sender="T1"))
    b = json.loads(await driver.raw("pos", envelope("X"), sender="T2"))
    assert (a["code"], b["code"]) == ("OK", "OK")
    assert a["output"]["setlinfo"]["setl_id"] != b["output"]["setlinfo"]["setl_id"]
    assert (await driver.balances())["ZH"] == "40.00"


async def test_concurrent_duplicates_decide_once(driver: Driver) -> None:
    """Ten copies of one message at the same instant: one decision, ten identical answers."""
    answers = await asyncio.gather(*(driver.raw("pos", envelope("C-1")) for _ in range(10)))
    assert len(set(answers)) == 1
    assert (await driver.balances())["ZH"] == "120.00"


async def test_restart_replays_and_keeps_state(tmp_path: Path) -> None:
    """After a restart on the same file: same answer for a repeated msgid, same balances and window."""
    db = tmp_path / "ledger.db"
    switch = make_switch(db)
    await switch.start()
    d = Driver(switch)
    await d.admin("admin.load", DONGYING)
    prompt = await d.raw("pos", envelope("R-1", psn="DR"))
    settled = await d.raw("pos", envelope("R-2", psn="DR"))
    await switch.stop()
    switch = make_switch(db)
    await switch.start()
    d = Driver(switch)
    assert await d.raw("pos", envelope("R-1", psn="DR")) == prompt
    assert await d.raw("pos", envelope("R-2", psn="DR")) == settled
    assert await d.balances() == {"DH": "420.00", "DR": "0.00", "DE": "30.00"}
    third = json.loads(await d.raw("pos", envelope("R-3", psn="DR")))
    assert third["code"] == "POOLING_AVAILABLE"  # the used window did not come back
    audit = await d.admin("admin.audit")
    assert audit["output"] == {"ok": True, "violations": [], "checked": {"people": 3, "settlements": 1}}
    await switch.stop()


BAD = [
    (b"not json", None, "not UTF-8 JSON"),
    (b"[1, 2]", None, "must be a JSON object"),
    (b'{"infno": "2102", "input": {}}', None, "msgid"),
    (b'{"infno": "2102", "msgid": 17, "fixmedins_code": "P1"}', None, "msgid"),
    (json.dumps({"infno": "2102", "msgid": "b1", "input": pharmacy_input("ZR", "80.00")}).encode(), "b1",
     "fixmedins_code"),
    (json.dumps({"infno": "2102", "msgid": "b2", "fixmedins_code": "P1",
                 "input": pharmacy_input("ZR", "1.005")}).encode(), "b2", "input.druginfo.medfee_sumamt"),
    (json.dumps({"infno": "2102", "msgid": "b3", "fixmedins_code": "P1",
                 "input": pharmacy_input("ZR", "-5.00")}).encode(), "b3", "greater than 0"),
    (json.dumps({"infno": "2102", "msgid": "b4", "fixmedins_code": "P1",
                 "input": pharmacy_input("ZR", 80, acct_used_flag=1)}).encode(), "b4",
     "input.druginfo.acct_used_flag"),
    (json.dumps({"infno": "2102", "msgid": "b5", "fixmedins_code": "P1", "input": {
        **pharmacy_input("ZR", "10.00"), "drugdetail": [{"med_list_codg": "X", "cnt": 1, "pric": "4.00",
                                                         "det_item_fee_sumamt": "4.00"}]}}).encode(), "b5",
     "add up to 4.00"),
    (json.dumps({"infno": "2102", "msgid": "b6", "fixmedins_code": "P1", "input": "x" * 70_000}).encode(), None,
     "limit is 65536"),
]


@pytest.mark.parametrize(("payload", "ref", "says"), BAD)
async def test_bad_input_is_answered_specifically(driver: Driver, payload: bytes, ref: str | None, says: str) -> None:
    """Not JSON, no msgid, wrong types, 3 decimals, negative, sum mismatch, 70 kB: INVALID_REQUEST saying what."""
    answer = json.loads(await driver.raw("pos", payload))
    assert (answer["code"], answer["infcode"], answer["inf_refmsgid"]) == ("INVALID_REQUEST", -1, ref)
    assert says in answer["err_msg"]
    assert answer["output"]["errors"]
    assert (await driver.balances())["ZH"] == "200.00"


async def test_corrected_resend_after_invalid_request(driver: Driver) -> None:
    """An INVALID_REQUEST is not recorded: the same msgid with a corrected input is settled."""
    bad = await driver.pos("2102", pharmacy_input("ZR", "1.005"), msgid="fix-1")
    good = await driver.pos("2102", pharmacy_input("ZR", "1.00"), msgid="fix-1")
    assert (bad["code"], good["code"]) == ("INVALID_REQUEST", "OK")


async def test_unknown_infno_and_unknown_admin_field(driver: Driver) -> None:
    """An unknown transaction code is UNKNOWN_INFNO; a misspelt admin field is INVALID_REQUEST."""
    assert (await driver.pos("9999", {}))["code"] == "UNKNOWN_INFNO"
    assert (await driver.admin("2102", {}))["code"] == "UNKNOWN_INFNO"
    answer = await driver.admin("admin.credit", {"psn_no": "ZH", "amount": "1.00", "amout": "2"})
    assert answer["code"] == "INVALID_REQUEST" and answer["output"]["errors"] == [
        {"loc": ["input", "amout"], "msg": "unknown field"}]


async def test_admin_credit_and_status(driver: Driver) -> None:
    """admin.credit adds to an employee account once per msgid; set_status suspends; errors are specific."""
    credit = await driver.admin("admin.credit", {"psn_no": "ZH", "amount": "50.00"}, msgid="cr-1")
    assert credit["output"] == {"psn_no": "ZH", "balc": "250.00"}
    assert (await driver.admin("admin.credit", {"psn_no": "ZH", "amount": "50.00"}, msgid="cr-1")) == credit
    assert (await driver.balances())["ZH"] == "250.00"
    assert (await driver.admin("admin.credit", {"psn_no": "NOPE", "amount": "1"}))["code"] == "PERSON_NOT_FOUND"
    assert (await driver.admin("admin.credit", {"psn_no": "ZR", "amount": "1"}))["code"] == "INVALID_REQUEST"
    assert (await driver.admin("admin.set_status", {"psn_no": "ZR", "status": "suspended"}))["code"] == "OK"
    assert (await driver.pos("2102", pharmacy_input("ZR", "1.00")))["code"] == "INSURANCE_SUSPENDED"
    assert (await driver.admin("admin.set_status", {"psn_no": "NOPE", "status": "active"}))["code"] == \
        "PERSON_NOT_FOUND"


async def test_suspending_holder_closes_windows(driver: Driver) -> None:
    """Suspending a holder closes the relatives' windows; resuming restores pooling."""
    assert (await driver.pos("2102", pharmacy_input("DR", "80.00")))["code"] == "POOLING_AVAILABLE"
    await driver.admin("admin.set_status", {"psn_no": "DH", "status": "suspended"})
    assert (await driver.admin("admin.state"))["output"]["windows"] == []
    cash = await driver.pos("2102", pharmacy_input("DR", "80.00"))
    assert cash["output"]["setlinfo"]["psn_cash_pay"] == "80.00"
    await driver.admin("admin.set_status", {"psn_no": "DH", "status": "active"})
    assert (await driver.pos("2102", pharmacy_input("DR", "80.00")))["code"] == "POOLING_AVAILABLE"


async def test_clock_changes_need_a_virtual_clock(tmp_path: Path) -> None:
    """admin.clock reads any clock; moving the system clock is CLOCK_NOT_VIRTUAL."""
    switch = make_switch(tmp_path / "s.db", SystemClock())
    await switch.start()
    d = Driver(switch)
    read = await d.admin("admin.clock")
    assert read["code"] == "OK" and read["output"]["virtual"] is False
    assert (await d.admin("admin.clock", {"advance": "4m59s"}))["code"] == "CLOCK_NOT_VIRTUAL"
    await switch.stop()


async def test_virtual_clock_advance_and_set(driver: Driver) -> None:
    """admin.clock advances by "4m59.999s" or seconds and sets an ISO instant; windows it passes expire."""
    assert (await driver.pos("2102", pharmacy_input("DR", "80.00")))["code"] == "POOLING_AVAILABLE"
    moved = await driver.admin("admin.clock", {"advance": "4m59.999s"})
    assert moved["output"]["now"] == "2026-11-25T10:04:59.999+08:00" and moved["output"]["virtual"] is True
    assert len((await driver.admin("admin.state"))["output"]["windows"]) == 1
    moved = await driver.admin("admin.clock", {"advance": 0.001})
    assert moved["output"]["now"] == "2026-11-25T10:05:00.000+08:00"
    assert (await driver.admin("admin.state"))["output"]["windows"] == []
    moved = await driver.admin("admin.clock", {"set": "2027-01-01T00:00:00+08:00"})
    assert moved["output"]["now"] == "2027-01-01T00:00:00.000+08:00"
    bad = await driver.admin("admin.clock", {"advance": "5 minutes"})
    assert bad["code"] == "INVALID_REQUEST" and bad["output"]["errors"][0]["loc"] == ["input", "advance"]


async def test_admin_token_is_required_when_set(tmp_path: Path) -> None:
    """With an admin token every admin request needs it: UNAUTHORIZED otherwise, nothing done."""
    switch = make_switch(tmp_path / "t.db", token="s3cret")
    await switch.start()
    d = Driver(switch)
    assert (await d.admin("admin.load", ZIBO))["code"] == "UNAUTHORIZED"
    assert (await d.admin("admin.load", ZIBO, token="wrong"))["code"] == "UNAUTHORIZED"
    assert (await d.admin("admin.load", ZIBO, token="s3cret"))["code"] == "OK"
    assert (await d.admin("admin.state", token="s3cret"))["output"]["counts"]["people"] == 2
    await switch.stop()


async def test_policies_list_set_and_survive_restart(tmp_path: Path) -> None:
    """admin.policy lists the starting set, replaces one by name, and the change survives a restart."""
    switch = make_switch(tmp_path / "p.db")
    await switch.start()
    d = Driver(switch)
    names = [p["name"] for p in (await d.admin("admin.policy"))["output"]["policies"]]
    assert names == ["zibo", "dongying", "shandong", "hunan", "hunan-off", "national-2024"]
    changed = await d.admin("admin.policy", {"set": {"name": "zibo", "admdvs": ["370300"], "flow": "retry_window",
                                                     "window_seconds": 60}})
    assert changed["code"] == "OK" and changed["output"]["policy"]["window_seconds"] == 60
    bad = await d.admin("admin.policy", {"set": {"name": "x", "admdvs": ["37"], "flow": "sometimes"}})
    assert bad["code"] == "INVALID_REQUEST"
    assert {tuple(e["loc"]) for e in bad["output"]["errors"]} == {("input", "set", "admdvs"),
                                                                  ("input", "set", "flow")}
    await switch.stop()
    switch = make_switch(tmp_path / "p.db")
    await switch.start()
    d = Driver(switch)
    await d.admin("admin.load", ZIBO)
    prompt = await d.pos("2102", pharmacy_input("ZR", "10.00"))
    assert prompt["code"] == "POOLING_AVAILABLE"
    assert prompt["err_msg"].startswith("您存在有效的家庭共济绑定关系,1分钟内")
    await switch.stop()


async def test_reset_empties_everything_and_forgets_msgids(driver: Driver) -> None:
    """admin.reset empties people, bindings, windows, ledger and recorded msgids."""
    await driver.pos("2102", pharmacy_input("ZR", "10.00"), msgid="used")
    assert (await driver.admin("admin.reset"))["code"] == "OK"
    state = (await driver.admin("admin.state"))["output"]
    assert state["people"] == [] and state["bindings"] == [] and state["counts"]["settlements"] == 0
    await driver.admin("admin.load", ZIBO)
    again = await driver.pos("2102", pharmacy_input("ZR", "10.00"), msgid="used")
    assert again["code"] == "OK" and again["output"]["setlinfo"]["setl_id"] == "SETL0000000001"
    assert (await driver.admin("admin.audit"))["output"]["ok"] is True


async def test_audit_finds_tampering(tmp_path: Path) -> None:
    """admin.audit recomputes balances from the ledger: a balance edited behind its back is reported."""
    db = tmp_path / "a.db"
    switch = make_switch(db)
    await switch.start()
    d = Driver(switch)
    await d.admin("admin.load", ZIBO)
    await d.pos("2102", pharmacy_input("ZR", "80.00"))
    assert (await d.admin("admin.audit"))["output"]["ok"] is True
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE people SET balc = balc + 1 WHERE psn_no = 'ZH'")
    audit = (await d.admin("admin.audit"))["output"]
    assert audit["ok"] is False
    assert audit["violations"] == ["ZH: balance 12001 fen but the ledger gives 12000",
                                   "money not conserved: accounts and externals sum to 1 fen, not 0",
                                   "ZH: memory says 12000 fen, disk says 12001"]
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE people SET balc = balc - 1 WHERE psn_no = 'ZH'")
        setl_id, acct, mulaid = raw.execute("SELECT setl_id, acct, mulaid FROM settlements").fetchone()
        raw.execute("UPDATE settlements SET status = 'cancelled', cash = cash + 5 WHERE setl_id = ?", (setl_id,))
    audit = (await d.admin("admin.audit"))["output"]
    assert audit["violations"] == [f"{setl_id}: parts do not add up to medfee_sumamt",
                                   f"{setl_id} (cancelled): ledger paid {acct + mulaid} fen, expected 0"]
    await switch.stop()


async def test_audit_during_traffic_finds_nothing_wrong(tmp_path: Path) -> None:
    """admin.audit among settlements still being committed: memory is ahead of the disk by every decision not
    yet durable, so the audit holds new decisions until its snapshot is fixed; nothing is reported, and every
    settlement is answered and counted."""
    switch = make_switch(tmp_path / "a.db")
    await switch.start()
    d = Driver(switch)
    await d.admin("admin.load", ZIBO)

    async def till(n: int) -> list[str]:  # one checkout after another, as a till does
        return [(await d.pos("2102", pharmacy_input("ZH" if n % 2 else "ZR", "0.10")))["code"] for _ in range(45)]

    async def audits() -> list[dict[str, Any]]:
        found = []
        for _ in range(4):
            await asyncio.sleep(0.02)
            found.append((await d.admin("admin.audit"))["output"])
        return found

    auditing = asyncio.ensure_future(audits())
    tills = await asyncio.gather(*[till(n) for n in range(8)])
    found = await auditing
    assert tills == [["OK"] * 45] * 8
    assert [(f["ok"], f["violations"][:3]) for f in found] == [(True, [])] * 4
    assert (await d.balances())["ZH"] == "164.00"  # 200.00 - 360 settlements of 0.10, all from ZH's account
    await switch.stop()


async def test_reversal_through_the_service(driver: Driver) -> None:
    """2601 by msgid: the service finds the sender's original; reversal before original → REVERSED later."""
    settled = await driver.pos("2102", pharmacy_input("ZR", "80.00"), msgid="o-1")
    undo = await driver.pos("2601", {"psn_no": "ZR", "omsgid": "o-1", "oinfno": "2102"})
    assert undo["output"]["reversed"] is True and undo["output"]["setlinfo"]["setl_id"] == \
        settled["output"]["setlinfo"]["setl_id"]
    early = await driver.pos("2601", {"psn_no": "ZR", "omsgid": "o-2", "oinfno": "2102"})
    assert early["code"] == "OK" and early["output"]["reversed"] is False
    late = await driver.pos("2102", pharmacy_input("ZR", "80.00"), msgid="o-2")
    assert late["code"] == "REVERSED" and late["infcode"] == -1
    cancel = await driver.pos("2103", {"setl_id": settled["output"]["setlinfo"]["setl_id"], "psn_no": "ZR"})
    assert cancel["code"] == "ALREADY_CANCELLED"
    assert (await driver.balances())["ZH"] == "200.00"
    assert (await driver.admin("admin.audit"))["output"]["ok"] is True


def test_virtual_clock_is_frozen_by_default() -> None:
    """A virtual clock does not move by itself; speed makes it run."""
    clock = VirtualClock(T0)
    assert clock.now() == T0
    clock.set_speed(1000)
    assert clock.now() >= T0


async def test_a_binding_loaded_again_without_cap_keeps_its_cap(tmp_path: Path) -> None:
    """Cap 100.00 with 80.00 used; admin.load of the same binding to change only rltn keeps the cap (on disk too,
    after a restart), so the next 30.00 pools 20.00; "cap": null in a load is what lifts it."""
    db = tmp_path / "ledger.db"
    switch = make_switch(db)
    await switch.start()
    try:
        d = Driver(switch)
        await d.admin("admin.load", ZIBO)
        capped = await d.send("app", "app.set_cap", {"relative_psn_no": "ZR", "cap": "100.00"}, sender="ZH")
        assert capped["code"] == "OK"
        assert (await d.pos("2102", pharmacy_input("ZR", "80.00")))["code"] == "OK"
        same = {"holder_psn_no": "ZH", "relative_psn_no": "ZR", "rltn": "child"}
        assert (await d.admin("admin.load", {"bindings": [same]}))["code"] == "OK"
    finally:
        await switch.stop()
    switch = make_switch(db)
    await switch.start()
    try:
        d = Driver(switch)
        state = (await d.admin("admin.state", {"psn_no": "ZR"}))["output"]
        assert [(b["rltn"], b["cap"], b["used"]) for b in state["bindings"]] == [("child", "100.00", "80.00")]
        pooled = (await d.pos("2102", pharmacy_input("ZR", "30.00")))["output"]["setlinfo"]
        assert (pooled["acct_mulaid_pay"], pooled["psn_cash_pay"]) == ("20.00", "10.00")
        assert (await d.admin("admin.load", {"bindings": [{**same, "cap": None}]}))["code"] == "OK"
        state = (await d.admin("admin.state", {"psn_no": "ZR"}))["output"]
        assert [(b["cap"], b["used"]) for b in state["bindings"]] == [(None, "100.00")]
    finally:
        await switch.stop()
