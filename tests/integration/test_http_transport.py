"""The HTTP door as a transport: restarts, events as SSE, 404/405/413, slow clients, journal, fault rules."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from switch.doors.http import EVENTS_PATH, HttpDoor
from switch.journal.table import read_journal
from switch.service.delivery import serving
from switch.store.sqlite import SqliteStore
from tests.support.direct import Direct, direct_switch
from tests.support.families import DONGYING, pharmacy_input
from tests.support.http import CALL_SERVICE, FIXMEDINS, http_client, national
from tests.support.switches import in_process_switch


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[tuple[HttpDoor, Direct]]:
    """An HTTP door on the real service with short timeouts: 0.2 s heartbeats, 0.5 s for headers and body."""
    async with direct_switch(tmp_path / "ledger.db") as direct:
        await direct.admin("admin.load", DONGYING)
        door = HttpDoor(serving(direct.switch), "127.0.0.1", 0, heartbeat=0.2, body_seconds=0.5, idle_seconds=0.5)
        direct.switch.subscribe(door.publish_events)
        stop = asyncio.Event()
        await door.open()
        task = asyncio.create_task(door.run(stop))
        yield door, direct
        stop.set()
        await task


async def test_replay_and_duplicate_msgid_across_a_restart(amqtt_url: str, topic_root: str, tmp_path: Path) -> None:
    """After a restart the same national request gets the first answer byte for byte; other content DUPLICATE_MSGID."""
    envelope = national("2102", pharmacy_input("DE", "30.00"))
    body = json.dumps(envelope).encode()
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db") as live, http_client(live.http) as client:
        await client.admin("admin.load", DONGYING)
        status, first = await client.raw(CALL_SERVICE, body)
    assert status == 200 and json.loads(first)["code"] == "OK"
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db") as live, http_client(live.http) as client:
        status, again = await client.raw("/csb/2102", body)
        other = await client.post(CALL_SERVICE, {**envelope, "input": pharmacy_input("DE", "10.00")})
        async with live.pos(FIXMEDINS) as pos:  # MQTT keeps its own keys, but a settled msgid never pays twice
            over_mqtt = await pos.request("2102", pharmacy_input("DE", "10.00"), msgid=envelope["msgid"])
            read_card = await pos.request("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRDE"},
                                          msgid=envelope["msgid"][:-1] + ("8" if envelope["msgid"][-1] == "9" else "9"))
    assert again == first
    assert (other["infcode"], other["code"], other["output"]) == (-1, "DUPLICATE_MSGID", None)
    assert other["err_msg"] == f"msgid {envelope['msgid']} was already used for a different request (infno 2102); " \
                               "use a new msgid"
    assert (over_mqtt["code"], over_mqtt["output"]) == ("DUPLICATE_MSGID", {})
    assert "already settled SETL0000000001" in over_mqtt["err_msg"]
    assert read_card["code"] == "OK"  # the institution's other msgids are MQTT's own


async def test_events_arrive_as_server_sent_events(bare: tuple[HttpDoor, Direct]) -> None:
    """GET /gongji/v1/events: a heartbeat comment, then event: window.opened with the v1 event JSON for DR at P1."""
    door, _ = bare
    async with aiohttp.ClientSession() as session, session.get(door.url + EVENTS_PATH) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (200, "text/event-stream; charset=utf-8")
        assert await resp.content.readline() == b": gongji events\n"
        assert await resp.content.readline() == b"\n"
        assert await asyncio.wait_for(resp.content.readline(), 2) == b": heartbeat\n"
        async with http_client(door.url) as client:
            answer = await client.call("2102", pharmacy_input("DR", "80.00"))
        assert answer["code"] == "POOLING_AVAILABLE"
        lines = [await asyncio.wait_for(resp.content.readline(), 2) for _ in range(5)]
        frames = [line for line in lines if line.startswith(b"event:") or line.startswith(b"data:")]
    assert frames[0] == b"event: window.opened\n"
    event = json.loads(frames[1].removeprefix(b"data: "))
    assert (event["type"], event["data"]["psn_no"], event["data"]["holder_psn_no"]) == ("window.opened", "DR", "DH")


async def test_a_subscriber_that_does_not_read_is_dropped(bare: tuple[HttpDoor, Direct]) -> None:
    """A stream whose reader never reads is dropped once its queue is full; a new subscriber still gets events."""
    door, _ = bare
    _reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(b"GET /gongji/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    deadline = time.monotonic() + 10
    while not door._subscribers and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    big = json.dumps({"type": "test.flood", "at": "now", "data": {"pad": "x" * 10_000}}).encode()
    while door._subscribers and time.monotonic() < deadline:
        door.publish_events([big] * 50)
        await asyncio.sleep(0.005)
    assert not door._subscribers
    writer.close()
    async with aiohttp.ClientSession() as session, session.get(door.url + EVENTS_PATH) as resp:
        await resp.content.readline()
        await resp.content.readline()
        door.publish_events([b'{"type":"window.used","at":"t","data":{}}'])
        assert await asyncio.wait_for(resp.content.readline(), 2) == b"event: window.used\n"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/csb/2102", 405), ("GET", CALL_SERVICE, 405), ("POST", EVENTS_PATH, 405),
    ("PUT", "/gongji/v1/admin", 405), ("POST", "/nothing/here", 404), ("GET", "/", 404),
    ("POST", "/gongji/v1/app/DH/extra", 404), ("POST", "/csb/21020", 404),
])
async def test_unknown_paths_and_methods(bare: tuple[HttpDoor, Direct], method: str, path: str, status: int) -> None:
    """Paths the door does not serve are 404; another method on a served path is 405."""
    door, _ = bare
    async with http_client(door.url) as client:
        got, _ = await client.raw(path, b"{}", method=method)
    assert got == status


async def test_an_oversized_body_is_413_before_parsing(bare: tuple[HttpDoor, Direct]) -> None:
    """65,537 bytes are refused with 413, with a length given and chunked; 65,536 bytes of garbage get the service."""
    door, _ = bare

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"x" * 4096

    async with http_client(door.url) as client:
        status, _ = await client.raw(CALL_SERVICE, b"x" * 65_537)
        assert status == 413
        async with client.session.post(door.url + CALL_SERVICE, data=chunks()) as resp:
            assert resp.status == 413
        status, body = await client.raw(CALL_SERVICE, b"x" * 65_536)
    assert status == 200 and json.loads(body)["code"] == "INVALID_REQUEST"


async def test_slow_clients_hold_nothing(bare: tuple[HttpDoor, Direct]) -> None:
    """Half-sent headers are closed after the idle time; a body that stops short gets 408; the door still serves."""
    door, _ = bare
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(b"POST /csb/2102 HTTP/1.1\r\nHost: x\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert time.monotonic() - started < 3
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    sent = time.monotonic()
    writer.write(b"POST /csb/2102 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"infno\":")
    answer = await asyncio.wait_for(reader.read(), 5)  # the answer, then the end of the connection
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert answer.endswith(b"\r\n\r\n408 the body did not arrive in time\n"), answer
    # closed with the answer, not after another body_seconds of waiting for the rest (0.5 s here)
    assert 0.5 <= time.monotonic() - sent < 0.98
    writer.close()
    async with http_client(door.url) as client:
        settled = await client.call("2102", pharmacy_input("DE", "30.00"))
    assert settled["code"] == "OK"


async def test_http_exchanges_are_journaled(amqtt_url: str, topic_root: str, tmp_path: Path) -> None:
    """The journal row of a national request: method, path and header names, channel, fixmedins_code, msgid, code."""
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db") as live, http_client(live.http) as client:
        await client.admin("admin.load", DONGYING)
        envelope = national("2102", pharmacy_input("DE", "30.00"))
        await client.post("/csb/2102", envelope, headers={"Content-Type": "application/json", "x-tif-paasid": "p"})
        store = live.switch.store
        assert isinstance(store, SqliteStore)
        await store.write_journal()
        rows = [r for r in read_journal(store.path, limit=10) if r.channel == "national"]
    assert len(rows) == 1
    row = rows[0]
    assert row.topic.startswith("POST /csb/2102 (") and "x-tif-paasid" in row.topic and "content-type" in row.topic
    assert (row.sender, row.infno, row.msgid, row.code, row.answers) == (FIXMEDINS, "2102", envelope["msgid"], "OK", 1)


async def test_fault_rules_match_the_fixmedins_code_on_http(bare: tuple[HttpDoor, Direct]) -> None:
    """A rule for terminal_id = the fixmedins_code errors once on HTTP; the retry of the msgid settles 30.00."""
    door, direct = bare
    rule = {"match": {"terminal_id": FIXMEDINS, "infno": "2102"}, "action": "error", "times": 1}
    assert (await direct.admin("admin.faults", {"rules": [rule]}))["code"] == "OK"
    envelope = national("2102", pharmacy_input("DE", "30.00"))
    async with http_client(door.url) as client:
        failed = await client.post(CALL_SERVICE, envelope)
        retried = await client.post(CALL_SERVICE, envelope)
    assert (failed["infcode"], failed["code"]) == (-1, "INTERNAL_ERROR")
    assert (retried["code"], retried["output"]["setlinfo"]["acct_pay"]) == ("OK", "30.00")


async def test_a_dropped_answer_ends_the_connection_and_the_retry_gets_it(bare: tuple[HttpDoor, Direct]) -> None:
    """drop_response: the client's connection ends without an answer; the retry gets the committed settlement."""
    door, direct = bare
    rule = {"match": {"terminal_id": FIXMEDINS}, "action": "drop_response", "times": 1}
    assert (await direct.admin("admin.faults", {"rules": [rule]}))["code"] == "OK"
    envelope = national("2102", pharmacy_input("DE", "30.00"))
    async with http_client(door.url) as client:
        with pytest.raises(aiohttp.ClientError):
            await client.post(CALL_SERVICE, envelope)
        retried = await client.post(CALL_SERVICE, envelope)
    assert (retried["code"], retried["output"]["setlinfo"]["balc"]) == ("OK", "0.00")


async def test_the_admin_token_holds_on_http(amqtt_url: str, topic_root: str, tmp_path: Path) -> None:
    """With --admin-token, POST /gongji/v1/admin without it is UNAUTHORIZED; with it, OK."""
    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db", admin_token="s3cret") as live, \
            http_client(live.http) as client:
        refused = await client.admin("admin.state")
        allowed = await client.admin("admin.state", token="s3cret")
    assert (refused["code"], allowed["code"]) == ("UNAUTHORIZED", "OK")


async def test_a_national_request_without_fixmedins_code_names_it(bare: tuple[HttpDoor, Direct]) -> None:
    """No fixmedins_code: INVALID_REQUEST naming the field; a fixmedins_code with a space names it too."""
    door, _ = bare
    async with http_client(door.url) as client:
        envelope = national("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "x"})
        del envelope["fixmedins_code"]
        missing = await client.post(CALL_SERVICE, envelope)
        spaced = await client.call("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "x"}, fixmedins_code="P 1")
    assert missing["output"]["errors"][0]["loc"] == ["fixmedins_code"]
    assert spaced["output"]["errors"][0]["loc"] == ["fixmedins_code"]
    assert (missing["code"], spaced["code"]) == ("INVALID_REQUEST", "INVALID_REQUEST")


async def test_a_foreign_certificate_on_a_visit_is_the_envelopes_warn_msg(amqtt_url: str, topic_root: str,
                                                                          tmp_path: Path) -> None:
    """Over HTTP a 2207 tied to ZR's visit with DH's card settles (infcode 0) and says so in the envelope's warn_msg."""
    from tests.support.clinic import fee_line, register_input, settle_input
    from tests.support.families import ZIBO

    async with in_process_switch(amqtt_url, topic_root, tmp_path / "l.db") as live, http_client(live.http) as client:
        await client.admin("admin.load", ZIBO)
        visit = await client.post(CALL_SERVICE, national("2201", register_input("ZR")))
        mdtrt_id = visit["output"]["data"]["mdtrt_id"]
        upload = await client.post(CALL_SERVICE, national(
            "2204", {"feedetail": [fee_line("1", mdtrt_id, "ZR", "B1", "1", "100.00")]}))
        paid = await client.post(CALL_SERVICE, national(
            "2207", settle_input("ZR", "100.00", mdtrt_id, "B1", cert_no="QRZH")))
    assert (visit["code"], upload["code"], paid["infcode"], paid["code"]) == ("OK", "OK", 0, "OK")
    assert paid["output"]["setlinfo"]["mdtrt_id"] == mdtrt_id
    assert paid["warn_msg"] == paid["output"]["warn_msg"] and mdtrt_id in paid["warn_msg"]
