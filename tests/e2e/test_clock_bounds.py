"""The virtual clock over a real broker: out-of-range changes are refused by name and never brick the switch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.switches import SwitchProcess

pytestmark = pytest.mark.e2e

HOSTILE = [
    (b'{"set": "9999-12-31T23:59:00+08:00"}', "set"),
    (b'{"set": "2199-12-31T23:59:00+08:00", "speed": 10000}', "speed"),
    (b'{"advance": NaN}', "advance"),
    (b'{"advance": Infinity}', "advance"),
    (b'{"advance": 1e20}', "advance"),
    (b'{"advance": "99999999999h"}', "advance"),
    (b'{"advance": "1600000h"}', "advance"),  # valid, but past 2199 from 2026
]


async def test_hostile_clock_changes_are_refused_by_name(broker_url: str, topic_root: str, tmp_path: Path) -> None:
    """Each out-of-range admin.clock is INVALID_REQUEST naming its field and msgid; the clock and switch carry on."""
    switch = SwitchProcess("--broker", broker_url, "--db", str(tmp_path / "ledger.db"), "--topic-root", topic_root,
                           "--clock", "virtual", "--clock-start", "2026-11-25T10:00:00+08:00").start()
    try:
        async with SwitchClient(broker_url, "admin", root=topic_root, timeout=10) as admin:
            for i, (body, field) in enumerate(HOSTILE):
                msgid = f"clock-{i}"
                payload = b'{"infno": "admin.clock", "msgid": "%s", "input": %s}' % (msgid.encode(), body)
                answer = await admin.send_raw(payload, msgid=msgid)
                assert (answer["code"], answer["inf_refmsgid"]) == ("INVALID_REQUEST", msgid), answer
                assert [e["loc"] for e in answer["output"]["errors"]] == [["input", field]], answer
                assert answer["err_msg"].startswith(f"input.{field}: "), answer  # as every INVALID_REQUEST
            now = await admin.call("admin.clock", {})
            assert (now["now"], now["speed"]) == ("2026-11-25T10:00:00.000+08:00", 0.0)
            moved = await admin.call("admin.clock", {"set": "2199-12-31T23:59:00+08:00"})
            assert moved["now"] == "2199-12-31T23:59:00.000+08:00"
            back = await admin.call("admin.clock", {"set": "2026-11-25T10:00:00+08:00", "speed": 1})
            assert back["now"].startswith("2026-11-25T10:00:0") and back["speed"] == 1.0
            state = await admin.call("admin.state", {})
            assert state["counts"]["people"] == 0
            assert json.dumps(state["now"]).startswith('"2026-11-25T10:00:0')
    finally:
        assert switch.terminate() == 0
