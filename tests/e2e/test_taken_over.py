"""A client that takes the switch's MQTT client id does not leave it deaf: it notices and reconnects."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiomqtt
import pytest

from terminal.clients.mqtt import NoAnswer, SwitchClient
from tests.support.brokers import free_port, wait_port
from tests.support.switches import SwitchProcess


@pytest.mark.parametrize("clean_session", [True, False])
async def test_one_second_as_the_switchs_client_id_does_not_leave_it_deaf(tmp_path: Path, topic_root: str,
                                                                          clean_session: bool) -> None:
    """One 1-second connection under the switch's client id on the embedded broker: the switch answers again
    within 20 s (it probes, finds itself deaf, and reconnects) instead of never."""
    port = free_port()
    switch = SwitchProcess("--listen", f"127.0.0.1:{port}", "--db", str(tmp_path / "ledger.db"), "--clock",
                           "virtual", "--topic-root", topic_root, "--log-level", "WARNING").start()
    try:
        wait_port(port)
        switch_id = f"gongji-switch-{topic_root.replace('/', '-')}"
        async with aiomqtt.Client("127.0.0.1", port, identifier=switch_id, clean_session=clean_session):
            await asyncio.sleep(1)
        started = time.monotonic()
        async with SwitchClient(f"mqtt://127.0.0.1:{port}", "pos", "T1", root=topic_root,
                                fixmedins_code="P1") as pos:
            for _attempt in range(20):
                try:
                    answer = await pos.request("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "nobody"},
                                               msgid="after-intruder", timeout=1)
                    break
                except NoAnswer:
                    continue
            else:
                raise AssertionError("the switch stayed deaf for 20 s")
        assert answer["code"] == "PERSON_NOT_FOUND" and time.monotonic() - started < 20
    finally:
        assert switch.terminate() == 0
    assert any("deaf" in line or "closed the connection" in line for line in switch.stderr_lines), switch.stderr_lines
