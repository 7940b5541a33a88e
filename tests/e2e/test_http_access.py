"""The HTTP door under ``serve --access``: the broker's accounts as HTTP Basic credentials, the same rules.

A real switch process (embedded broker, HTTP door), access files written by the real
``mosquitto-config`` command, a real HTTP client (aiohttp) and real MQTT terminals beside it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from switch.doors.access import AccessConfig, read_access
from terminal.clients.mqtt import SwitchClient
from tests.support.brokers import free_port, wait_port
from tests.support.families import DONGYING, cert, pharmacy_input
from tests.support.http import national
from tests.support.switches import ROOT, SwitchProcess, mosquitto_config

pytestmark = pytest.mark.e2e

P1, P2 = "P37050000001", "P37050000002"
TERMINALS = (f"T1@{P1}", f"T2@{P2}")  # each registered for its institution
APPS = ("DH", "DR")
TOKEN = "adm-token"
REALM = 'Basic realm="gongji"'
ADMIN = "/gongji/v1/admin"
Creds = tuple[str, str] | None


@dataclass
class Guarded:
    """A switch started with ``--access`` (and ``--admin-token``): its HTTP door, its broker, its accounts."""

    http: str
    mqtt: str
    access: AccessConfig
    process: SwitchProcess

    def creds(self, user: str) -> tuple[str, str]:
        return user, self.access.user(user).password

    def terminal(self, name: str, fixmedins_code: str) -> SwitchClient:
        """An MQTT terminal logged in with its own account."""
        host_port = self.mqtt.removeprefix("mqtt://")
        return SwitchClient(f"mqtt://{name}:{self.access.user(name).password}@{host_port}", "pos", name,
                            root=self.access.topic_root, fixmedins_code=fixmedins_code)

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None, creds: Creds = None,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request as a real client sends it; (status, headers, body)."""
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        sent = {"Content-Type": "application/json", **(basic(":".join(creds)) if creds else {}), **(headers or {})}
        async with aiohttp.ClientSession() as session, session.request(
                method, self.http + path, data=data, headers=sent) as resp:
            return resp.status, dict(resp.headers), await resp.read()

    async def call(self, path: str, body: dict[str, Any], creds: Creds) -> dict[str, Any]:
        status, _, raw = await self.send("POST", path, body, creds)
        assert status == 200, (status, raw)
        answer: dict[str, Any] = json.loads(raw, parse_float=Decimal)
        return answer

    async def admin(self, infno: str, input: dict[str, Any] | None = None) -> dict[str, Any]:
        envelope = {"infno": infno, "msgid": f"adm-{uuid.uuid4().hex[:10]}", "input": input or {}, "token": TOKEN}
        return await self.call(ADMIN, envelope, self.creds("admin"))

    async def state(self) -> dict[str, Any]:
        output: dict[str, Any] = (await self.admin("admin.state"))["output"]
        return output

    async def balances(self) -> dict[str, str]:
        return {p["psn_no"]: str(p["balc"]) for p in (await self.state())["people"]}

    async def journal(self) -> list[dict[str, Any]]:
        status, _, raw = await self.send("GET", "/gongji/v1/journal?limit=1000", creds=self.creds("admin"))
        assert status == 200, raw
        rows: list[dict[str, Any]] = json.loads(raw)["rows"]
        return rows


def write_access(directory: Path, port: int) -> AccessConfig:
    """The real command line, as an operator runs it."""
    mosquitto_config(directory, "gongji/v1", port, TERMINALS, APPS)
    return read_access(directory)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    tmp = tmp_path_factory.mktemp("http-access")
    port = free_port()
    access = write_access(tmp / "access", port)
    switch = SwitchProcess("--listen", f"127.0.0.1:{port}", "--access", str(access.directory), "--db",
                           str(tmp / "ledger.db"), "--clock", "virtual", "--admin-token", TOKEN,
                           "--log-level", "WARNING").start()
    wait_port(port)
    try:
        yield Guarded(switch.http_url, f"mqtt://127.0.0.1:{port}", access, switch)
    finally:
        assert switch.terminate() == 0


@pytest.fixture
async def door(guarded: Guarded) -> Guarded:
    """The guarded switch with the Dongying family loaded afresh (DH 500.00)."""
    assert (await guarded.admin("admin.reset"))["code"] == "OK"
    assert (await guarded.admin("admin.load", DONGYING))["code"] == "OK"
    return guarded


def sale(psn_no: str, amount: str, fixmedins_code: str = P1, msgid: str | None = None) -> dict[str, Any]:
    return national("2102", pharmacy_input(psn_no, amount), msgid=msgid, fixmedins_code=fixmedins_code)


def basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


async def test_no_or_wrong_credentials_get_401_and_nothing_is_decided(door: Guarded) -> None:
    """Anonymous, a wrong password, an unknown user, a bearer token, garbage: HTTP 401 with the Basic challenge and
    one line saying what to send, on every path that does something; balances, state and journal stay as they were."""
    before = await door.state()
    journal_before = len(await door.journal())
    wrong: list[tuple[Creds, dict[str, str] | None]] = [
        (None, None), (("T1", "wrong"), None), (("T1", ""), None), (("nobody", "pw"), None),
        (("admin", "admin-pw-"), None), (None, {"Authorization": f"Bearer {TOKEN}"}), (None, basic("T1")),
        (None, {"Authorization": "Basic ###"}),
    ]
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/csb/2102", sale("DH", "50.00")),
        ("POST", "/fsi/api/rsfComIfsService/callService", sale("DH", "60.00")),
        ("POST", ADMIN, {"infno": "admin.reset", "msgid": "evil-reset", "input": {}, "token": TOKEN}),
        ("POST", ADMIN, {"infno": "admin.credit", "msgid": "evil-credit", "input": {"psn_no": "DR", "amount": "9"},
                         "token": TOKEN}),
        ("POST", "/gongji/v1/app/DH", {"infno": "app.unbind", "msgid": "evil-unbind",
                                       "input": {"relative_psn_no": "DR"}}),
        ("GET", "/gongji/v1/events", None),
        ("GET", "/gongji/v1/journal", None),
    ]
    for creds, headers in wrong:
        for method, path, body in requests:
            status, answered, raw = await door.send(method, path, body, creds, headers)
            assert status == 401, (creds, headers, path, raw)
            assert answered["WWW-Authenticate"] == REALM
            text = raw.decode()
            assert text.startswith("401 ") and text.count("\n") == 1 and "Basic" in text, text
            assert ("credentials required" if creds is None and headers is None else "wrong") in text
    assert await door.state() == before
    assert (await door.balances())["DH"] == "500.00"
    rows = await door.journal()
    assert len(rows) == journal_before + 2  # only the admin's own two admin.state since
    assert not {"evil-reset", "evil-credit", "evil-unbind"} & {row["msgid"] for row in rows}


async def test_a_terminal_settles_for_its_own_institution_and_is_refused_for_another(door: Guarded) -> None:
    """T1 (registered for P1) settles for P1 over HTTP; naming P2 it gets the MQTT door's UNAUTHORIZED, in the
    national envelope, and nothing moves; T2 settles for P2."""
    own = await door.call("/csb/2102", sale("DH", "50.00"), door.creds("T1"))
    assert (own["infcode"], own["output"]["setlinfo"]["acct_pay"]) == (0, "50.00")
    foreign = await door.call("/csb/2102", sale("DH", "70.00", P2), door.creds("T1"))
    async with door.terminal("T1", P2) as t1:
        over_mqtt = await t1.request("2102", pharmacy_input("DH", "70.00"))
    assert (over_mqtt["code"], over_mqtt["err_msg"]) == (
        "UNAUTHORIZED", f"fixmedins_code {P2!r} is not the institution terminal T1 is registered for")
    assert (foreign["infcode"], foreign["code"], foreign["err_msg"], foreign["output"]) == (
        -1, "UNAUTHORIZED", over_mqtt["err_msg"], None)
    assert set(foreign) >= {"inf_refmsgid", "refmsg_time", "respond_time"}  # the platform's envelope
    assert (await door.balances())["DH"] == "450.00"
    t2 = await door.call("/csb/2102", sale("DH", "20.00", P2), door.creds("T2"))
    assert t2["infcode"] == 0 and (await door.balances())["DH"] == "430.00"


async def test_nobody_cancels_a_terminals_sale_through_the_http_door_but_its_institution(door: Guarded) -> None:
    """The attack: MQTT terminal T1 sells for P1; an anonymous 2103 naming P1 over HTTP is 401, T2 naming P1 is
    UNAUTHORIZED, T2 as itself finds no such settlement: the sale stands. T1's own cancel over HTTP refunds it."""
    async with door.terminal("T1", P1) as t1:
        sold = await t1.request("2102", pharmacy_input("DH", "80.00"))
    setl_id = sold["output"]["setlinfo"]["setl_id"]
    assert (await door.balances())["DH"] == "420.00"
    cancel = {"data": {"setl_id": setl_id, "psn_no": "DH"}}
    status, headers, _ = await door.send("POST", "/csb/2103", national("2103", cancel, fixmedins_code=P1))
    assert (status, headers["WWW-Authenticate"]) == (401, REALM)
    claimed = await door.call("/csb/2103", national("2103", cancel, fixmedins_code=P1), door.creds("T2"))
    assert (claimed["code"], claimed["err_msg"]) == (
        "UNAUTHORIZED", f"fixmedins_code {P1!r} is not the institution terminal T2 is registered for")
    as_itself = await door.call("/csb/2103", national("2103", cancel, fixmedins_code=P2), door.creds("T2"))
    assert as_itself["code"] == "SETTLEMENT_NOT_FOUND"
    assert (await door.balances())["DH"] == "420.00"
    refund = await door.call("/csb/2103", national("2103", cancel, fixmedins_code=P1), door.creds("T1"))
    assert refund["code"] == "OK" and (await door.balances())["DH"] == "500.00"


async def test_an_http_request_is_its_terminals_own_across_doors(door: Guarded) -> None:
    """Under --access a national request is the account's: its msgid is keyed under T1 (a resend replays, other
    content is DUPLICATE_MSGID), a 2601 over HTTP reverses what T1 settled over MQTT, and the journal and events
    name T1, not the institution."""
    msgid = f"{P1}202611251000009001"
    first = await door.call("/csb/2102", sale("DH", "10.00", msgid=msgid), door.creds("T1"))
    again = await door.call("/csb/2102", sale("DH", "10.00", msgid=msgid), door.creds("T1"))
    assert first["infcode"] == 0 and again == first
    other = await door.call("/csb/2102", sale("DH", "11.00", msgid=msgid), door.creds("T1"))
    assert other["code"] == "DUPLICATE_MSGID"
    async with door.terminal("T1", P1) as t1:
        over_mqtt = await t1.request("2102", pharmacy_input("DH", "30.00"), msgid="t1-mqtt-sale")
    assert over_mqtt["code"] == "OK" and (await door.balances())["DH"] == "460.00"
    undo = {"data": {"psn_no": "DH", "omsgid": "t1-mqtt-sale", "oinfno": "2102"}}
    reversed_ = await door.call("/csb/2601", national("2601", undo, fixmedins_code=P1), door.creds("T1"))
    assert reversed_["code"] == "OK" and (await door.balances())["DH"] == "490.00"
    rows = [row for row in await door.journal() if row["msgid"] == msgid]
    assert {(row["channel"], row["sender"]) for row in rows} == {("national", "T1")}
    assert all("authorization" in row["topic"] and door.access.user("T1").password not in row["topic"]
               for row in rows)


async def test_admin_and_the_journal_need_the_admin_account(door: Guarded) -> None:
    """A terminal or member app on the admin path or the journal: 403 and nothing moves; the admin account (with the
    admin token, as before) works; without the token the admin account gets the token's UNAUTHORIZED."""
    reset = {"infno": "admin.reset", "msgid": "not-yours", "input": {}, "token": TOKEN}
    for user in ("T1", "DH", "gongji-switch"):
        status, _, raw = await door.send("POST", ADMIN, reset, door.creds(user))
        assert status == 403 and raw.decode().startswith(f"403 user {user} ") and raw.count(b"\n") == 1, raw
        status, _, raw = await door.send("GET", "/gongji/v1/journal", creds=door.creds(user))
        assert status == 403, raw
    assert (await door.balances())["DH"] == "500.00"
    untokened = await door.call(ADMIN, {"infno": "admin.state", "msgid": "no-token", "input": {}},
                                door.creds("admin"))
    assert untokened["code"] == "UNAUTHORIZED" and "token" in untokened["err_msg"]
    assert (await door.admin("admin.credit", {"psn_no": "DH", "amount": "1.00"}))["code"] == "OK"
    assert (await door.balances())["DH"] == "501.00"


async def test_accounts_stay_on_their_own_paths(door: Guarded) -> None:
    """Member app DH uses its own app path only (not DR's, not a till's); a terminal is no member app; the admin
    is no till."""
    own = await door.call("/gongji/v1/app/DH", {"infno": "app.bindings", "msgid": "dh-1", "input": {}},
                          door.creds("DH"))
    assert own["code"] == "OK"
    refused = [("DH", "/gongji/v1/app/DR", {"infno": "app.bindings", "msgid": "dh-2", "input": {}}),
               ("DH", "/csb/2102", sale("DH", "5.00")),
               ("T1", "/gongji/v1/app/T1", {"infno": "app.bindings", "msgid": "t1-app", "input": {}}),
               ("T1", "/gongji/v1/app/DH", {"infno": "app.unbind", "msgid": "t1-unbind",
                                            "input": {"relative_psn_no": "DR"}}),
               ("admin", "/csb/2102", sale("DH", "5.00"))]
    for user, path, body in refused:
        status, _, raw = await door.send("POST", path, body, door.creds(user))
        assert status == 403, (user, path, raw)
    assert (await door.balances())["DH"] == "500.00"
    assert {b["relative_psn_no"] for b in (await door.state())["bindings"]} == {"DR", "DE"}


@asynccontextmanager
async def stream(door: Guarded, user: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The SSE events of ``user``'s account, as they arrive."""
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    opened = asyncio.Event()

    async def read() -> None:
        async with aiohttp.ClientSession() as session, session.get(
                door.http + "/gongji/v1/events", headers=basic(":".join(door.creds(user))),
                timeout=aiohttp.ClientTimeout(total=None)) as resp:
            assert resp.status == 200
            async for line in resp.content:
                opened.set()
                if line.startswith(b"data:"):
                    await got.put(json.loads(line[5:]))

    task = asyncio.create_task(read())
    await asyncio.wait_for(opened.wait(), 5)
    try:
        yield got
    finally:
        task.cancel()


async def test_the_events_stream_carries_each_account_only_its_own_events(door: Guarded) -> None:
    """As on MQTT: T1's sale reaches T1, DH and the admin; T2 and member app DR (not in it) do not hear it, and their
    first event is their own."""
    async with stream(door, "T1") as t1, stream(door, "T2") as t2, stream(door, "DH") as dh, \
            stream(door, "DR") as dr, stream(door, "admin") as admin:
        sold = await door.call("/csb/2102", sale("DH", "40.00"), door.creds("T1"))
        setl_id = sold["output"]["setlinfo"]["setl_id"]
        for listener in (t1, dh, admin):
            event = await asyncio.wait_for(listener.get(), 5)
            assert (event["type"], event["data"]["setl_id"], event["data"]["terminal_id"]) == (
                "settlement.committed", setl_id, "T1")
        other = await door.call("/csb/2102", sale("DE", "5.00", P2), door.creds("T2"))
        t2_event = await asyncio.wait_for(t2.get(), 5)
        assert t2_event["data"]["setl_id"] == other["output"]["setlinfo"]["setl_id"]
        await asyncio.sleep(0.3)
        assert dr.empty()


async def _terminal(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "terminal", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, "COLUMNS": "120", **env})
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_swipe_over_http_logs_in_with_the_account_in_the_url(door: Guarded, tmp_path: Path) -> None:
    """gongji-terminal swipe --http http://T1:PASSWORD@HOST:PORT settles; without the account it is told to pass
    one (exit 2, nothing moved), and the password is never printed."""
    env = {"GONGJI_STATE_DIR": str(tmp_path / "state")}
    host_port = door.http.removeprefix("http://")
    password = door.access.user("T1").password
    swipe = ("swipe", "--terminal", "T1", "--fixmedins", P1, "--cert", cert("DH"), "--amount", "25")
    code, out = await _terminal(*swipe, "--http", door.http, env=env)
    assert code == 2 and "HTTP 401" in out and "http://USER:PASSWORD@HOST:PORT" in out, out
    assert (await door.balances())["DH"] == "500.00"
    code, out = await _terminal(*swipe, "--http", f"http://T1:{password}@{host_port}", env=env)
    assert code == 0 and "475.00" in out and password not in out, out
    assert (await door.balances())["DH"] == "475.00"


async def test_the_same_anonymous_request_settles_only_on_a_switch_without_access(door: Guarded,
                                                                                  tmp_path: Path) -> None:
    """Without --access the door stays open: an anonymous 2102 settles (sender the fixmedins_code, as before) and
    credentials, if a till sends some, are not looked at. With --access the same request is 401."""
    status, _, _ = await door.send("POST", "/csb/2102", sale("DH", "50.00"))
    assert status == 401
    switch = SwitchProcess("--listen", f"127.0.0.1:{free_port()}", "--db", str(tmp_path / "open.db"),
                           "--clock", "virtual", "--log-level", "WARNING").start()
    try:
        async with aiohttp.ClientSession() as session:
            async def post(path: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
                async with session.post(switch.http_url + path, json=body, **kw) as resp:
                    assert resp.status == 200 and "WWW-Authenticate" not in resp.headers
                    answer: dict[str, Any] = await resp.json()
                    return answer

            assert (await post(ADMIN, {"infno": "admin.load", "msgid": "l", "input": DONGYING}))["code"] == "OK"
            anonymous = await post("/csb/2102", sale("DH", "50.00"))
            with_creds = await post("/csb/2102", sale("DH", "20.00"), headers=basic("T1:whatever"))
            assert (anonymous["infcode"], with_creds["infcode"]) == (0, 0)
            async with session.get(switch.http_url + "/gongji/v1/journal") as resp:
                rows = (await resp.json())["rows"]
            assert {row["sender"] for row in rows if row["channel"] == "national"} == {P1}
    finally:
        assert switch.terminate() == 0
