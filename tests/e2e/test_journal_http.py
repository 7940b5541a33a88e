"""GET /gongji/v1/journal on a switch process: rows, filters, paging, bad parameters and the admin token."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from terminal.clients.mqtt import SwitchClient
from tests.support.brokers import free_port
from tests.support.families import DONGYING, cert
from tests.support.http import HttpClient, http_client, national
from tests.support.switches import SwitchProcess

TOKEN = "s3cret"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
JOURNAL = "/gongji/v1/journal"


@pytest.fixture(scope="module")
def switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SwitchProcess, str]]:
    db = tmp_path_factory.mktemp("journal") / "ledger.db"
    broker = f"mqtt://127.0.0.1:{(port := free_port())}"
    proc = SwitchProcess("--clock", "virtual", "--db", str(db), "--listen", f"127.0.0.1:{port}",
                         "--admin-token", TOKEN).start()
    yield proc, broker
    proc.terminate()


@pytest.fixture
async def traffic(switch: tuple[SwitchProcess, str]) -> AsyncIterator[tuple[HttpClient, str]]:
    """The switch after a load, two card reads over HTTP (two institutions) and one over MQTT (terminal T7)."""
    proc, broker = switch
    async with http_client(proc.http_url) as client:
        await client.admin("admin.load", DONGYING, token=TOKEN)
        read = {"mdtrt_cert_type": "01", "mdtrt_cert_no": cert("DH")}
        await client.post("/fsi/api/rsfComIfsService/callService", national("1101", read, fixmedins_code="PA0001"))
        await client.post("/csb/1101", national("1101", read, fixmedins_code="PB0002"))
        async with SwitchClient(broker, "pos", "T7", fixmedins_code="PA0001") as pos:
            await pos.call("1101", read)
        yield client, proc.http_url


async def get(client: HttpClient, query: str, headers: dict[str, str] | None = BEARER) -> tuple[int, Any]:
    async with client.session.get(client.base + JOURNAL + query, headers=headers) as answer:
        text = await answer.text()
        return answer.status, json.loads(text) if answer.content_type == "application/json" else text


async def test_rows_come_oldest_first_with_every_column(traffic: tuple[HttpClient, str]) -> None:
    """Every exchange is a row at once (pending rows written before the answer), payloads as UTF-8 text."""
    client, _ = traffic
    status, page = await get(client, "?limit=1000")
    rows = page["rows"][-4:]
    assert status == 200 and page["more"] is False and page["after"] == rows[-1]["id"]
    assert [(r["channel"], r["sender"], r["infno"], r["code"], r["answers"]) for r in rows] == [
        ("admin", "admin", "admin.load", "OK", 1), ("national", "PA0001", "1101", "OK", 1),
        ("national", "PB0002", "1101", "OK", 1), ("pos", "T7", "1101", "OK", 1)]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    first = rows[1]
    assert json.loads(first["request"])["fixmedins_code"] == "PA0001"
    assert json.loads(first["response"])["output"]["baseinfo"]["psn_no"] == "DH"
    assert (first["request_encoding"], first["response_encoding"]) == ("utf-8", "utf-8")
    assert first["request_size"] == len(first["request"].encode())
    assert set(first) == {"id", "received", "switch_time", "topic", "channel", "sender", "infno", "msgid", "code",
                          "answers", "took_ms", "hint", "request", "request_size", "request_encoding", "response",
                          "response_size", "response_encoding"}


async def test_filters_and_paging(traffic: tuple[HttpClient, str]) -> None:
    """terminal_id and fixmedins_code filter (an MQTT terminal by its envelope); after/limit page through."""
    client, _ = traffic
    _, everything = await get(client, "?limit=1000")
    start = everything["rows"][-4]["id"] - 1
    _, institution = await get(client, f"?after={start}&fixmedins_code=PA0001")
    assert [(r["channel"], r["sender"]) for r in institution["rows"]] == [("national", "PA0001"), ("pos", "T7")]
    _, terminal = await get(client, f"?after={start}&terminal_id=T7")
    assert [(r["channel"], r["sender"]) for r in terminal["rows"]] == [("pos", "T7")]
    _, both = await get(client, f"?after={start}&terminal_id=T7&fixmedins_code=PB0002")
    assert both["rows"] == []
    _, first = await get(client, f"?after={start}&limit=2")
    assert ([r["infno"] for r in first["rows"]], first["more"]) == (["admin.load", "1101"], True)
    _, rest = await get(client, f"?after={first['after']}&limit=2")
    assert ([r["sender"] for r in rest["rows"]], rest["more"]) == (["PB0002", "T7"], True)
    _, empty = await get(client, f"?after={rest['after']}&limit=2")
    assert (empty["rows"], empty["after"], empty["more"]) == ([], rest["after"], False)


@pytest.mark.parametrize(("query", "line"), [
    ("?limit=0", "400 limit='0': expected a whole number from 1 to 1000\n"),
    ("?limit=1001", "400 limit='1001': expected a whole number from 1 to 1000\n"),
    ("?after=-1", "400 after='-1': expected a whole number from 0 to 9223372036854775807\n"),
    ("?after=abc", "400 after='abc': expected a whole number from 0 to 9223372036854775807\n"),
    ("?terminal_id=", "400 terminal_id='': expected 1 to 64 characters\n"),
    ("?fixmedins_code=" + "P" * 65, "400 fixmedins_code='" + "P" * 65 + "': expected 1 to 64 characters\n"),
    ("?since=3", "400 since: unknown parameter (after, limit, terminal_id, fixmedins_code)\n"),
])
async def test_a_bad_parameter_is_400_naming_it(traffic: tuple[HttpClient, str], query: str, line: str) -> None:
    """A wrong query value is HTTP 400 and one line naming the parameter."""
    assert await get(traffic[0], query) == (400, line)


@pytest.mark.parametrize(("headers", "status", "err_msg"), [
    (None, 401, "admin token missing: this switch was started with --admin-token; send it as the header "
                "Authorization: Bearer <token>"),
    ({"Authorization": "Bearer nope"}, 403, "admin token wrong: the bearer token is not the one this switch was "
                                            "started with (--admin-token)"),
])
async def test_the_admin_token_guards_it(traffic: tuple[HttpClient, str], headers: dict[str, str] | None,
                                         status: int, err_msg: str) -> None:
    """With --admin-token the journal needs it as a bearer: 401 without, 403 when wrong, UNAUTHORIZED in the body."""
    assert await get(traffic[0], "?limit=1", headers) == (status, {"code": "UNAUTHORIZED", "err_msg": err_msg})


async def test_only_get_and_no_journal_is_404(traffic: tuple[HttpClient, str], tmp_path: Path) -> None:
    """POST to the journal is 405; a switch with --journal-max 0 answers its journal path 404 in one line."""
    assert await traffic[0].raw(JOURNAL, b"{}") == (405, b"405 method not allowed: POST /gongji/v1/journal\n")
    port = free_port()
    bare = SwitchProcess("--db", str(tmp_path / "none.db"), "--listen", f"127.0.0.1:{port}", "--journal-max", "0")
    bare.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(bare.http_url + JOURNAL) as answer:
            assert (answer.status, await answer.text()) == (
                404, "404 this switch keeps no traffic journal (--journal-max 0)\n")
    finally:
        bare.terminate()


async def test_a_payload_that_is_not_utf8_comes_as_base64(switch: tuple[SwitchProcess, str]) -> None:
    """Bytes that are not UTF-8 are journaled as heard and answered in base64, the encoding named."""
    proc, broker = switch
    raw = b"\xff\xfe{not json"
    async with aiomqtt.Client("127.0.0.1", int(broker.rsplit(":", 1)[1])) as mqtt:
        await mqtt.publish("gongji/v1/pos/T8/req", raw, qos=1)
    async with http_client(proc.http_url) as client:
        for _ in range(50):  # the message reaches the switch through the broker: wait for it
            _, page = await get(client, "?terminal_id=T8")
            if page["rows"]:
                break
            await asyncio.sleep(0.1)
    row = page["rows"][0]
    assert (row["request_encoding"], base64.b64decode(row["request"]), row["request_size"]) == ("base64", raw, len(raw))
    assert (row["channel"], row["code"], row["response_encoding"]) == ("pos", "INVALID_REQUEST", "utf-8")
