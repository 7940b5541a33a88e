"""Faults end to end: the switch as a subprocess with ``--faults FILE`` and admin.faults, on both brokers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.clients.mqtt import NoAnswer, SwitchClient
from tests.support.families import ZIBO, pharmacy_input
from tests.support.retrying import RetryingPos
from tests.support.switches import SwitchProcess


@pytest.fixture
def faulty_switch(broker_url: str, topic_root: str, tmp_path: Path) -> Iterator[SwitchProcess]:
    """The switch started with a rule file: T1's first 2102 is committed but never answered."""
    rules = tmp_path / "faults.yaml"
    rules.write_text("- match: {terminal_id: T1, infno: '2102'}\n  action: drop_response\n  times: 1\n")
    process = SwitchProcess("--broker", broker_url, "--db", str(tmp_path / "ledger.db"), "--clock", "virtual",
                            "--topic-root", topic_root, "--faults", str(rules), "--log-level", "WARNING").start()
    yield process
    assert process.terminate() == 0


async def test_pos_reverses_a_settlement_whose_answer_was_dropped(
        faulty_switch: SwitchProcess, broker_url: str, topic_root: str) -> None:
    """drop_response: the POS times out and reverses (2601); the committed settlement is undone in full."""
    async with SwitchClient(broker_url, "admin", root=topic_root) as admin, \
            SwitchClient(broker_url, "pos", "T1", root=topic_root, fixmedins_code="P37030000001") as client:
        assert (await admin.request("admin.load", ZIBO))["code"] == "OK"
        pos = RetryingPos(client, attempt_timeout=1.0)
        outcome, reversal = await pos.settle_or_reverse("2102", pharmacy_input("ZR", "50.00"), "ZR")
        assert outcome == "reversed" and reversal["code"] == "OK"
        assert reversal["output"]["reversed"] is True
        assert reversal["output"]["setlinfo"]["acct_mulaid_pay"] == "-50.00"
        state = await admin.request("admin.state", {"psn_no": "ZH"})
        assert {p["psn_no"]: p["balc"] for p in state["output"]["people"]} == {"ZH": "200.00", "ZR": "0.00"}
        assert state["output"]["counts"]["undone"] == 1
        # The rule was spent: the next settlement is answered at once.
        outcome, answer = await pos.settle_or_reverse("2102", pharmacy_input("ZR", "30.00"), "ZR")
        assert (outcome, answer["output"]["setlinfo"]["acct_mulaid_pay"]) == ("answered", "30.00")
        assert (await admin.request("admin.audit"))["output"]["ok"] is True


async def test_error_then_success_on_retry_of_the_same_msgid(
        faulty_switch: SwitchProcess, broker_url: str, topic_root: str) -> None:
    """error ×2: the POS gets INTERNAL_ERROR twice; the third send of the same msgid settles exactly once."""
    async with SwitchClient(broker_url, "admin", root=topic_root) as admin, \
            SwitchClient(broker_url, "pos", "T2", root=topic_root, fixmedins_code="P37030000001") as pos:
        await admin.request("admin.load", ZIBO)
        await admin.request("admin.faults", {"rules": [{"match": {"terminal_id": "T2"}, "action": "error",
                                                         "times": 2}]})
        codes = [(await pos.request("2102", pharmacy_input("ZR", "40.00"), msgid="T2-same"))["code"]
                 for _ in range(3)]
        assert codes == ["INTERNAL_ERROR", "INTERNAL_ERROR", "OK"]
        state = await admin.request("admin.state", {"psn_no": "ZH"})
        assert state["output"]["people"][0]["balc"] == "160.00" and state["output"]["counts"]["settlements"] == 1


async def test_delay_duplicate_and_drop_request_on_the_wire(
        faulty_switch: SwitchProcess, broker_url: str, topic_root: str) -> None:
    """delay_response answers late; duplicate_response sends the same bytes twice; drop_request never answers."""
    async with SwitchClient(broker_url, "admin", root=topic_root) as admin, \
            SwitchClient(broker_url, "pos", "T3", root=topic_root, fixmedins_code="P37030000001") as pos:
        await admin.request("admin.load", ZIBO)
        await admin.request("admin.faults", {"rules": [
            {"match": {"infno": "1101"}, "action": "delay_response", "delay_ms": [600, 800], "times": 1},
            {"match": {"infno": "2101"}, "action": "duplicate_response", "times": 1},
            {"match": {"infno": "2102"}, "action": "drop_request", "times": 1}]})
        started = time.monotonic()
        late = await pos.request("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"}, timeout=5)
        assert late["code"] == "OK" and 0.6 <= time.monotonic() - started < 3.0
        first = await pos.request("2101", pharmacy_input("ZR", "10.00"), msgid="T3-pre")
        second = await asyncio.wait_for(pos.unmatched.get(), 5)
        assert first == second and first["inf_refmsgid"] == "T3-pre"
        with pytest.raises(NoAnswer):
            await pos.request("2102", pharmacy_input("ZR", "10.00"), msgid="T3-lost", timeout=1.0)
        state = await admin.request("admin.state", {"psn_no": "ZH"})
        assert state["output"]["people"][0]["balc"] == "200.00"
        resent = await pos.request("2102", pharmacy_input("ZR", "10.00"), msgid="T3-lost")
        assert resent["output"]["setlinfo"]["acct_mulaid_pay"] == "10.00"


@pytest.mark.parametrize(("option", "content", "message"), [
    ("--faults", "- action: delay_response\n", "rule #1: rule: Value error, delay_response needs delay_ms"),
    ("--faults", "rules: 5\n", "expected a list of fault rules"),
    ("--access", None, "users.yaml: No such file or directory; write it with 'gongji-switch mosquitto-config DIR'"),
])
def test_unusable_start_options_stop_with_a_clear_message(
        tmp_path: Path, option: str, content: str | None, message: str) -> None:
    """A broken --faults file or a missing --access directory: exit status 2 and what to fix, no traceback."""
    target = tmp_path / "given"
    if content is not None:
        target.write_text(content)
    done = subprocess.run([sys.executable, "-m", "switch", "serve", "--db", str(tmp_path / "l.db"),
                           "--listen", "127.0.0.1:1", option, str(target)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
