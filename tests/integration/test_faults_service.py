"""admin.faults at the service boundary: what each action commits, answers and records for a retry."""

from __future__ import annotations

from pathlib import Path

from switch.bootstrap import Settings, build_switch
from tests.integration.service_helpers import Driver, make_switch
from tests.support.direct import decode, direct_switch
from tests.support.families import ZIBO, pharmacy_input


async def test_error_moves_nothing_and_the_retry_of_the_msgid_succeeds(tmp_path: Path) -> None:
    """``error`` answers INTERNAL_ERROR naming the msgid, commits nothing, records nothing."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        await sw.admin("admin.faults", {"rules": [{"match": {"infno": "2102"}, "action": "error", "times": 1}]})
        failed = await sw.pos("T1", "2102", pharmacy_input("ZR", "50.00"), msgid="T1-1")
        assert (failed["code"], failed["infcode"], failed["inf_refmsgid"]) == ("INTERNAL_ERROR", -1, "T1-1")
        assert (await sw.balances())["ZH"] == "200.00"
        retried = await sw.pos("T1", "2102", pharmacy_input("ZR", "50.00"), msgid="T1-1")
        assert retried["code"] == "OK" and retried["output"]["setlinfo"]["acct_mulaid_pay"] == "50.00"
        assert (await sw.balances())["ZH"] == "150.00"


async def test_drop_response_commits_and_the_retry_gets_the_committed_answer(tmp_path: Path) -> None:
    """``drop_response`` commits and sends nothing; the same msgid again gets those bytes, moving nothing."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        await sw.admin("admin.faults", {"rules": [{"match": {"terminal_id": "T1"}, "action": "drop_response"}]})
        dropped = await sw.reply("pos", "T1", "2102", pharmacy_input("ZR", "50.00"), msgid="T1-1")
        assert dropped.sends == () and dropped.code == "OK" and dropped.events
        assert (await sw.balances())["ZH"] == "150.00"
        await sw.admin("admin.faults", {"rules": []})
        again = await sw.reply("pos", "T1", "2102", pharmacy_input("ZR", "50.00"), msgid="T1-1")
        assert again.sends == (0.0,) and again.payload == dropped.payload
        assert (await sw.balances())["ZH"] == "150.00"


async def test_drop_request_is_ignored_entirely(tmp_path: Path) -> None:
    """``drop_request`` neither commits nor records: the next delivery of the msgid is processed afresh."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        await sw.admin("admin.faults", {"rules": [{"action": "drop_request", "times": 1}]})
        ignored = await sw.reply("pos", "T1", "2102", pharmacy_input("ZR", "50.00"), msgid="T1-1")
        assert (ignored.payload, ignored.sends, ignored.events) == (b"", (), [])
        assert (await sw.balances())["ZH"] == "200.00"
        processed = await sw.pos("T1", "2102", pharmacy_input("ZR", "50.00"), msgid="T1-1")
        assert processed["code"] == "OK" and (await sw.balances())["ZH"] == "150.00"


async def test_delay_and_duplicate_only_schedule_the_answer(tmp_path: Path) -> None:
    """``delay_response`` and ``duplicate_response`` commit normally and change only when the answer goes."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        await sw.admin("admin.faults", {"rules": [
            {"match": {"infno": "1101"}, "action": "delay_response", "delay_ms": 1500},
            {"match": {"infno": "2102"}, "action": "duplicate_response", "delay_ms": [200, 200]}]})
        slow = await sw.reply("pos", "T1", "1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"})
        assert slow.sends == (1.5,) and decode(slow.payload)["output"]["baseinfo"]["psn_no"] == "ZR"
        twice = await sw.reply("pos", "T1", "2102", pharmacy_input("ZR", "20.00"))
        assert twice.sends == (0.0, 0.2) and (await sw.balances())["ZH"] == "180.00"


async def test_admin_faults_lists_replaces_and_clears(tmp_path: Path) -> None:
    """``{}`` lists the rules with hits left, ``{rules: [...]}`` replaces them, ``{rules: []}`` clears."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        set_ = await sw.admin("admin.faults", {"rules": [{"match": {"terminal_id": "T1"}, "action": "error",
                                                          "times": 2}]})
        assert set_["output"]["rules"] == [{"match": {"terminal_id": "T1"}, "action": "error", "times": 2,
                                            "left": 2}]
        await sw.pos("T1", "1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"})
        assert (await sw.admin("admin.faults"))["output"]["rules"][0]["left"] == 1
        assert (await sw.admin("admin.faults", {"rules": []}))["output"]["rules"] == []
        answer = await sw.pos("T1", "1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"})
        assert answer["code"] == "OK"


async def test_a_catch_all_rule_never_locks_out_the_admin_channel(tmp_path: Path) -> None:
    """Even ``drop_request`` on everything leaves admin requests answered, so faults can be cleared."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.faults", {"rules": [{"action": "drop_request"}]})
        assert (await sw.admin("admin.state"))["code"] == "OK"
        assert (await sw.reply("pos", "T1", "1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "x"})).sends == ()
        assert (await sw.admin("admin.faults", {"rules": []}))["code"] == "OK"
        answer = await sw.pos("T1", "1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "x"})
        assert answer["code"] == "PERSON_NOT_FOUND"


async def test_a_bad_rule_is_invalid_request_and_keeps_the_old_rules(tmp_path: Path) -> None:
    """A rule the switch cannot apply is INVALID_REQUEST with its location; the rules in force stay."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.faults", {"rules": [{"action": "error"}]})
        bad = await sw.admin("admin.faults", {"rules": [{"action": "delay_response"}]})
        assert bad["code"] == "INVALID_REQUEST"
        assert bad["output"]["errors"][0]["loc"] == ["input", "rules", 0]
        assert [r["action"] for r in (await sw.admin("admin.faults"))["output"]["rules"]] == ["error"]


async def test_reset_clears_fault_rules(tmp_path: Path) -> None:
    """admin.reset gives a fresh switch: fault rules set before it are gone."""
    switch = make_switch(tmp_path / "r.db")
    await switch.start()
    try:
        d = Driver(switch)
        rules = {"rules": [{"match": {"infno": "2102"}, "action": "error"}]}
        assert (await d.admin("admin.faults", rules))["code"] == "OK"
        assert (await d.admin("admin.reset"))["code"] == "OK"
        assert (await d.admin("admin.faults", {}))["output"] == {"rules": []}
    finally:
        await switch.stop()


async def test_reset_puts_back_the_rules_of_the_faults_file(tmp_path: Path) -> None:
    """A switch started with --faults FILE: admin.reset puts the file's rules back, counters afresh (it is a
    switch as started on an empty ledger), whatever admin.faults did meanwhile."""
    rules = tmp_path / "faults.yaml"
    rules.write_text('- {match: {infno: "2102"}, action: error, times: 1}\n', encoding="utf-8")
    switch = build_switch(Settings(db=tmp_path / "r.db", clock="virtual", faults=rules))
    await switch.start()
    try:
        d = Driver(switch)
        await d.admin("admin.load", ZIBO)
        assert (await d.pos("2102", pharmacy_input("ZR", "10.00")))["code"] == "INTERNAL_ERROR"
        assert (await d.pos("2102", pharmacy_input("ZR", "10.00")))["code"] == "OK"
        await d.admin("admin.faults", {"rules": [{"action": "drop_request"}]})
        assert (await d.admin("admin.reset"))["code"] == "OK"
        assert (await d.admin("admin.faults", {}))["output"] == {
            "rules": [{"match": {"infno": "2102"}, "action": "error", "times": 1, "left": 1}]}
        await d.admin("admin.load", ZIBO)
        assert (await d.pos("2102", pharmacy_input("ZR", "10.00")))["code"] == "INTERNAL_ERROR"
        assert (await d.pos("2102", pharmacy_input("ZR", "10.00")))["code"] == "OK"
    finally:
        await switch.stop()
