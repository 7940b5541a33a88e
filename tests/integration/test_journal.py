"""The traffic journal over a real broker: every request and answer, and why an answer never came."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiomqtt

from switch.core.model import iso
from switch.doors.mqtt import parse_broker_url
from switch.journal.table import JournalRow, read_journal
from switch.store.sqlite import SqliteStore
from tests.support.families import DONGYING, pharmacy_input
from tests.support.switches import ROOT, InProcessSwitch, in_process_switch


async def publish(live: InProcessSwitch, topic: str, payload: bytes) -> None:
    """Publish as a client with a mistake would: any topic, any bytes, QoS 1."""
    broker = parse_broker_url(live.url)
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(topic, payload, qos=1)


def db_of(live: InProcessSwitch) -> Path:
    store = live.switch.store
    assert isinstance(store, SqliteStore)
    return store.path


async def journal(live: InProcessSwitch, until: Callable[[list[JournalRow]], bool],
                  **filters: object) -> list[JournalRow]:
    """The journal once ``until`` holds (rows are written after the answer, so poll briefly)."""
    store = live.switch.store
    assert isinstance(store, SqliteStore)
    deadline = time.monotonic() + 5
    while True:
        await store.write_journal()
        rows = read_journal(store.path, limit=1000, **filters)  # type: ignore[arg-type]
        if until(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"the journal never got there: {rows}")
        await asyncio.sleep(0.05)


def settle_request(msgid: str) -> bytes:
    return json.dumps({"infno": "2102", "msgid": msgid, "fixmedins_code": "P37050000001",
                       "input": pharmacy_input("DR", "80.00")}).encode()


async def test_request_on_a_misspelt_topic_is_journaled_with_the_topic_meant(live: InProcessSwitch) -> None:
    """pos/T1/request gets no answer; the journal shows it and names pos/T1/req as the topic meant."""
    async with live.pos() as pos:
        await publish(live, f"{live.root}/pos/T1/request", settle_request("typo-1"))
        rows = await journal(live, lambda rs: len(rs) == 1)
        assert pos.unmatched.empty()
    row = rows[0]
    assert (row.topic, row.channel, row.sender, row.infno, row.msgid, row.code, row.answers) == (
        f"{live.root}/pos/T1/request", "pos", "T1", "2102", "typo-1", None, 0)
    r = live.root
    assert row.hint == (f"no switch listens on {r}/pos/T1/request: did you mean {r}/pos/T1/req? (it serves "
                        f"{r}/pos/{{terminal_id}}/req, {r}/app/{{psn_no}}/req and {r}/admin/req)")
    assert row.request == settle_request("typo-1")


async def test_json_without_msgid_is_answered_and_journaled_with_why_it_never_matches(
        live: InProcessSwitch) -> None:
    """JSON with no msgid is answered with inf_refmsgid null; the journal says why no POS matched it."""
    async with live.pos() as pos:
        answer = await pos.send_raw(b'{"infno": "2102", "fixmedins_code": "P37050000001", "input": {}}')
        rows = await journal(live, lambda rs: len(rs) == 1, terminal="T1")
    assert (answer["code"], answer["inf_refmsgid"], answer["infno"]) == ("INVALID_REQUEST", None, "2102")
    row = rows[0]
    assert (row.topic, row.infno, row.msgid, row.code, row.answers) == (
        f"{live.root}/pos/T1/req", "2102", None, "INVALID_REQUEST", 1)
    assert row.hint == ("the request has no msgid, so the answer carries inf_refmsgid null: a client "
                        "waiting for its msgid never matches it")
    assert row.response is not None and json.loads(row.response) == answer
    assert row.took_ms is not None and 0 <= row.took_ms < 5000


async def test_request_published_on_a_resp_topic_is_journaled(live: InProcessSwitch) -> None:
    """A request on pos/T1/resp is not served; the journal says requests go to pos/T1/req."""
    await publish(live, f"{live.root}/pos/T1/resp", settle_request("wrong-way-1"))
    rows = await journal(live, lambda rs: len(rs) == 1)
    row = rows[0]
    assert (row.topic, row.sender, row.msgid, row.code, row.answers) == (
        f"{live.root}/pos/T1/resp", "T1", "wrong-way-1", None, 0)
    r = live.root
    assert row.hint == (f"a request was published on the answer topic {r}/pos/T1/resp; the switch reads "
                        f"requests only on {r}/pos/T1/req and answers on {r}/pos/T1/resp")


async def test_a_normal_exchange_is_journaled_once_per_request_and_its_own_answers_are_not_strays(
        live: InProcessSwitch) -> None:
    """The retry-window story gives one row per request with its code; answers and events add no rows."""
    async with live.client("admin") as admin, live.pos(events=True) as pos:
        assert (await admin.request("admin.load", DONGYING, msgid="load-1"))["code"] == "OK"
        first = await pos.request("2102", pharmacy_input("DR", "80.00"), msgid="T1-1")
        live.clock.advance(timedelta(seconds=60))
        second = await pos.request("2102", pharmacy_input("DR", "80.00"), msgid="T1-2")
        assert (first["code"], second["code"]) == ("POOLING_AVAILABLE", "OK")
        await pos.next_event("settlement.committed")
        await publish(live, f"{live.root}/sentinel", b"{}")
        rows = await journal(live, lambda rs: any(r.topic.endswith("/sentinel") for r in rs))
    assert [(r.topic.removeprefix(live.root), r.msgid, r.code, r.answers) for r in rows] == [
        ("/admin/req", "load-1", "OK", 1), ("/pos/T1/req", "T1-1", "POOLING_AVAILABLE", 1),
        ("/pos/T1/req", "T1-2", "OK", 1), ("/sentinel", None, None, 0)]
    assert rows[1].hint == first["err_msg"] and rows[2].hint is None
    assert json.loads(rows[2].response or b"") == second
    assert rows[2].switch_time == iso(live.clock.now()) != rows[1].switch_time


async def test_payloads_are_kept_up_to_the_limit(live: InProcessSwitch) -> None:
    """A 64 KiB-class admin.load is journaled with its first 4096 bytes and its real size."""
    people = [{"psn_no": f"P{i:04d}", "psn_name": "测试", "insutype": "390", "insuplc_admdvs": "370500"}
              for i in range(120)]
    async with live.client("admin") as admin:
        answer = await admin.request("admin.load", {"people": people}, msgid="big-1")
        rows = await journal(live, lambda rs: len(rs) == 1)
    assert answer["code"] == "OK"
    assert rows[0].request_size > 8000 and len(rows[0].request) == 4096
    assert rows[0].response_size == len(rows[0].response or b"") < 4096


async def test_journal_keeps_only_the_newest_journal_max_rows(broker_url: str, topic_root: str,
                                                              tmp_path: Path) -> None:
    """With --journal-max 5, twelve requests leave exactly the newest five rows."""
    async with (in_process_switch(broker_url, topic_root, tmp_path / "j.db", journal_max=5) as live,
                live.client("admin") as admin):
        for i in range(12):
            assert (await admin.request("admin.state", msgid=f"s-{i:02d}"))["code"] == "OK"
        await journal(live, lambda rs: any(r.msgid == "s-11" for r in rs))
        await live.switch.store.write_journal()  # type: ignore[attr-defined]
        rows = read_journal(tmp_path / "j.db", limit=100)
    assert [r.msgid for r in rows] == ["s-07", "s-08", "s-09", "s-10", "s-11"]


async def test_journal_max_zero_journals_nothing(broker_url: str, topic_root: str, tmp_path: Path) -> None:
    """--journal-max 0 turns the journal (and its topic watcher) off; requests are served as before."""
    async with in_process_switch(broker_url, topic_root, tmp_path / "off.db", journal_max=0) as live:
        assert live.adapter.watcher is None
        async with live.client("admin") as admin:
            assert (await admin.request("admin.audit"))["code"] == "OK"
        await publish(live, f"{live.root}/pos/T1/request", settle_request("typo-2"))
    assert read_journal(tmp_path / "off.db") == []


async def test_journal_command_prints_the_three_cases_as_a_table(live: InProcessSwitch) -> None:
    """``gongji-switch journal --terminal T1 --since 5m`` shows the three "why no answer" rows and hints."""
    async with live.pos() as pos:
        await publish(live, f"{live.root}/pos/T1/request", settle_request("typo-3"))
        await pos.send_raw(b'{"infno": "2102", "input": {}}')
        await publish(live, f"{live.root}/pos/T1/resp", settle_request("wrong-way-3"))
        await publish(live, f"{live.root}/pos/T2/request", settle_request("other-terminal"))
        await journal(live, lambda rs: len(rs) == 4)
    env = {**os.environ, "COLUMNS": "400"}
    command = [sys.executable, "-m", "switch", "journal", "--db", str(db_of(live))]
    out = subprocess.run([*command, "--terminal", "T1", "--since", "5m"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "traffic journal of" in out.stdout and "(3 rows)" in out.stdout
    assert f"did you mean {live.root}/pos/T1/req?" in out.stdout
    assert "the request has no msgid, so the answer carries inf_refmsgid null" in out.stdout
    assert f"a request was published on the answer topic {live.root}/pos/T1/resp" in out.stdout
    assert "other-terminal" not in out.stdout
    by_msgid = subprocess.run([*command, "--msgid", "wrong-way-3", "--json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=30)
    topics = [json.loads(line)["topic"] for line in by_msgid.stdout.splitlines()]
    assert topics == [f"{live.root}/pos/T1/resp"]
