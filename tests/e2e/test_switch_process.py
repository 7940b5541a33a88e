"""The switch as a real subprocess: kill -9 and restart, hostile input, clean stop, broker loss, sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from switch.doors.mqtt import NODELAY, parse_broker_url
from terminal.clients.mqtt import SwitchClient
from tests.support.brokers import MosquittoProcess, free_port
from tests.support.families import DONGYING, ZIBO, pharmacy_input
from tests.support.switches import SwitchProcess

pytestmark = pytest.mark.e2e


class RawPos:
    """A POS that keeps the exact bytes of every answer, to compare replays byte for byte."""

    def __init__(self, url: str, root: str, terminal: str = "T1") -> None:
        self.address = parse_broker_url(url)
        self.req = f"{root}/pos/{terminal}/req"
        self.resp = f"{root}/pos/{terminal}/resp"

    async def exchange(self, payloads: list[bytes], timeout: float = 10) -> list[bytes]:
        """Publish each payload and collect one answer for each, in order."""
        answers: list[bytes] = []
        async with aiomqtt.Client(self.address.host, self.address.port, socket_options=NODELAY) as client:
            await client.subscribe(self.resp, qos=1)
            for payload in payloads:
                await client.publish(self.req, payload, qos=1)
                async with asyncio.timeout(timeout):
                    async for message in client.messages:
                        answers.append(bytes(message.payload))
                        break
        return answers


def settle(msgid: str, psn: str = "DR", amount: str = "80.00") -> bytes:
    return json.dumps({"infno": "2102", "msgid": msgid, "fixmedins_code": "P37050000001",
                       "input": pharmacy_input(psn, amount)}, ensure_ascii=False).encode()


def start(broker_url: str, root: str, db: Path, *extra: str) -> SwitchProcess:
    return SwitchProcess("--broker", broker_url, "--db", str(db), "--topic-root", root, "--clock", "virtual",
                         *extra).start()


async def admin_request(url: str, root: str, infno: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with SwitchClient(url, "admin", root=root, timeout=10) as admin:
        return await admin.request(infno, body or {})


async def test_kill_9_then_restart_replays_byte_for_byte(broker_url: str, topic_root: str, tmp_path: Path) -> None:
    """SIGKILL after answers were sent: after restart the same msgids get the same bytes; nothing moves twice."""
    db = tmp_path / "ledger.db"
    proc = await asyncio.to_thread(start, broker_url, topic_root, db)
    try:
        await admin_request(broker_url, topic_root, "admin.load", DONGYING)
        pos = RawPos(broker_url, topic_root)
        before = await pos.exchange([settle("K-1"), settle("K-2"), settle("K-3", "DE", "10.00")])
        assert [json.loads(b)["code"] for b in before] == ["POOLING_AVAILABLE", "OK", "OK"]
        proc.kill()
        proc = await asyncio.to_thread(start, broker_url, topic_root, db)
        after = await pos.exchange([settle("K-1"), settle("K-2"), settle("K-3", "DE", "10.00")])
        assert after == before
        state = (await admin_request(broker_url, topic_root, "admin.state"))["output"]
        assert {p["psn_no"]: p["balc"] for p in state["people"]} == {"DH": "420.00", "DR": "0.00", "DE": "20.00"}
        assert state["counts"]["settlements"] == 2
        assert (await admin_request(broker_url, topic_root, "admin.audit"))["output"]["ok"] is True
    finally:
        proc.kill()


HOSTILE: list[tuple[bytes, str | None, str]] = [
    (b"\xff\xfe not json", None, "not UTF-8 JSON"),
    (b"{}", None, "msgid"),
    (json.dumps({"infno": "2102", "msgid": "h1", "fixmedins_code": "P1",
                 "input": {"druginfo": {"psn_no": 123, "medfee_sumamt": True}}}).encode(), "h1", "psn_no"),
    (json.dumps({"infno": "2102", "msgid": "h2", "fixmedins_code": "P1",
                 "input": pharmacy_input("DR", "80.005")}).encode(), "h2", "two decimals"),
    (json.dumps({"infno": "2102", "msgid": "h3", "fixmedins_code": "P1",
                 "input": pharmacy_input("DR", "-80.00")}).encode(), "h3", "greater than 0"),
    (b'{"infno":"2102","msgid":"h4","fixmedins_code":"P1","input":{"pad":"' + b"x" * 70_000 + b'"}}', None,
     "65536"),
    (json.dumps({"infno": "9999", "msgid": "h5", "fixmedins_code": "P1", "input": {}}).encode(), "h5",
     "unknown infno"),
]


async def test_hostile_input_is_answered_and_the_switch_still_serves(broker_url: str, topic_root: str,
                                                                     tmp_path: Path) -> None:
    """Not JSON, wrong types, 3 decimals, negative, 70 kB, unknown infno: each answered as specified."""
    proc = await asyncio.to_thread(start, broker_url, topic_root, tmp_path / "h.db")
    try:
        await admin_request(broker_url, topic_root, "admin.load", ZIBO)
        answers = await RawPos(broker_url, topic_root).exchange([p for p, _, _ in HOSTILE])
        for (_, ref, says), raw in zip(HOSTILE, answers, strict=True):
            answer = json.loads(raw)
            expected = "UNKNOWN_INFNO" if ref == "h5" else "INVALID_REQUEST"
            assert (answer["code"], answer["infcode"], answer["inf_refmsgid"]) == (expected, -1, ref)
            assert says in answer["err_msg"], answer
        ok = await RawPos(broker_url, topic_root).exchange([settle("fine", "ZR", "80.00")])
        assert json.loads(ok[0])["output"]["setlinfo"]["acct_mulaid_pay"] == "80.00"
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        proc.kill()


async def test_sigterm_stops_cleanly(mosquitto_url: str, topic_root: str, tmp_path: Path) -> None:
    """SIGTERM: the switch finishes, closes the ledger and exits 0."""
    proc = await asyncio.to_thread(start, mosquitto_url, topic_root, tmp_path / "t.db")
    await admin_request(mosquitto_url, topic_root, "admin.load", ZIBO)
    assert await asyncio.to_thread(proc.terminate, signal.SIGTERM) == 0
    assert any("stopped cleanly" in line for line in proc.stderr_lines)


async def test_lost_broker_is_reconnected(topic_root: str, tmp_path: Path) -> None:
    """The broker goes away and comes back on the same port: the switch reconnects and serves again."""
    broker = MosquittoProcess(port=free_port()).start()
    proc = await asyncio.to_thread(start, broker.url, topic_root, tmp_path / "r.db")
    try:
        await admin_request(broker.url, topic_root, "admin.load", ZIBO)
        broker.stop()
        await asyncio.sleep(1.0)
        assert proc.proc is not None and proc.proc.poll() is None
        broker = MosquittoProcess(port=broker.port).start()
        for _ in range(50):
            try:
                answer = await admin_request(broker.url, topic_root, "admin.state")
                break
            except TimeoutError:
                await asyncio.sleep(0.2)
        assert answer["output"]["counts"]["people"] == 2
        said = "".join(proc.stderr_lines)
        assert f"the broker at 127.0.0.1:{broker.port} closed the connection" in said, said
    finally:
        proc.kill()
        broker.stop()


async def test_embedded_broker_and_real_time_window_expiry(topic_root: str, tmp_path: Path) -> None:
    """No --broker: the switch brings its own broker; a 1 s policy window from --policy expires on the
    system clock and the sweeper announces window.expired."""
    policy = tmp_path / "short.yaml"
    policy.write_text("- name: dongying\n  admdvs: ['370500']\n  flow: retry_window\n  window_seconds: 1\n"
                      "  relations: [spouse, parent, child, spouse_parent]\n")
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    proc = await asyncio.to_thread(SwitchProcess("--listen", f"127.0.0.1:{port}", "--db", str(tmp_path / "e.db"),
                                                 "--topic-root", topic_root, "--policy", str(policy)).start)
    try:
        assert "(embedded)" in proc.ready_line
        await admin_request(url, topic_root, "admin.load", DONGYING)
        async with SwitchClient(url, "pos", "T9", root=topic_root, fixmedins_code="P1", events=True,
                                timeout=10) as pos:
            first = await pos.request("2102", pharmacy_input("DR", "10.00"))
            assert first["code"] == "POOLING_AVAILABLE" and first["err_msg"].startswith(
                "您存在有效的家庭共济绑定关系,1秒内")
            expired = await pos.next_event("window.expired", timeout=5)
            assert expired["data"]["psn_no"] == "DR" and expired["data"]["fixmedins_code"] == "P1"
            again = await pos.request("2102", pharmacy_input("DR", "10.00"))
            assert again["code"] == "POOLING_AVAILABLE"
    finally:
        proc.kill()


def test_bad_start_options_are_explained(tmp_path: Path) -> None:
    """A broken policy file or broker URL stops the start with a message naming the problem (exit 2)."""
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: x\n  admdvs: ['37']\n  flow: automatic\n")
    out = subprocess.run([sys.executable, "-m", "switch", "serve", "--policy", str(bad), "--db",
                          str(tmp_path / "b.db")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "policy #1" in out.stderr and "admdvs" in out.stderr
    out = subprocess.run([sys.executable, "-m", "switch", "serve", "--broker", "http://x", "--db",
                          str(tmp_path / "b.db")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "scheme must be mqtt://" in out.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_before_the_broker_was_ever_reached_is_clean(tmp_path: Path, sig: signal.Signals) -> None:
    """Stopped while it still retries a broker where nothing listens: the usual lines, no asyncio error."""
    import subprocess
    import sys
    import time

    from tests.support.switches import ROOT

    command = [sys.executable, "-m", "switch", "serve", "--broker", f"mqtt://127.0.0.1:{free_port()}",
               "--http", "off", "--db", str(tmp_path / "s.db")]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)  # it loaded the ledger and retries the broker
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "never retrieved" not in out and "Traceback" not in out, out
    assert out.strip().splitlines()[-1].endswith("gongji-switch stopped cleanly"), out


@pytest.mark.parametrize("where", ["embedded", "mosquitto"])
async def test_a_clean_stop_answers_every_request_it_committed(where: str, mosquitto_url: str, topic_root: str,
                                                               tmp_path: Path) -> None:
    """SIGTERM 50 ms after 30 settlements were published: every settlement on disk has had its answer (the
    embedded broker dropped answers it had not passed on, and answers only queued when the door disconnected
    were lost: 8 committed, 1 answered). A request the door had not taken yet stays with the broker: on
    mosquitto the restarted switch settles it, so all 30 settle exactly once."""
    db = tmp_path / "stop.db"
    if where == "embedded":
        port = free_port()
        url, args = f"mqtt://127.0.0.1:{port}", ("--listen", f"127.0.0.1:{port}")
    else:
        url, args = mosquitto_url, ("--broker", mosquitto_url)
    address = parse_broker_url(url)

    def launch() -> SwitchProcess:
        return SwitchProcess(*args, "--db", str(db), "--topic-root", topic_root, "--clock", "virtual").start()

    switch = launch()
    answers: dict[str, str] = {}
    async with aiomqtt.Client(address.host, address.port, identifier=f"stop-{where}", clean_session=False,
                              socket_options=NODELAY) as client:
        await client.subscribe(f"{topic_root}/pos/T1/resp", qos=1)

        async def collect(seconds: float) -> None:
            with contextlib.suppress(TimeoutError, aiomqtt.MqttError):
                async with asyncio.timeout(seconds):
                    async for message in client.messages:
                        answer = json.loads(message.payload)
                        answers.setdefault(answer["inf_refmsgid"], answer["code"])

        assert (await admin_request(url, topic_root, "admin.load", DONGYING))["code"] == "OK"
        await asyncio.gather(*(client.publish(f"{topic_root}/pos/T1/req", settle(f"STOP-{i}", "DH", "1.00"), qos=1)
                               for i in range(30)))
        await asyncio.sleep(0.05)
        assert await asyncio.to_thread(switch.terminate, signal.SIGTERM) == 0
        await collect(2)
        with sqlite3.connect(db) as ledger:
            committed = {row[0] for row in ledger.execute("SELECT msgid FROM settlements")}
        assert committed and committed <= set(answers), (sorted(committed - set(answers)), switch.stderr_lines[-5:])
        if where == "mosquitto":
            restarted = launch()
            try:
                await collect(5)
            finally:
                restarted.terminate()
            with sqlite3.connect(db) as ledger:
                rows = ledger.execute("SELECT msgid, count(*) FROM settlements GROUP BY msgid").fetchall()
            assert len(rows) == 30 and {count for _, count in rows} == {1}
            assert set(answers) == {f"STOP-{i}" for i in range(30)} and set(answers.values()) == {"OK"}
