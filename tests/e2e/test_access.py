"""Broker access control from ``gongji-switch mosquitto-config``: real mosquitto, and the embedded amqtt broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from switch.doors.access import AccessConfig, read_access
from switch.doors.mqtt import NODELAY
from terminal.clients.mqtt import NoAnswer, SwitchClient
from tests.support.brokers import MosquittoProcess, free_port, wait_port
from tests.support.families import ZIBO, person, pharmacy_input
from tests.support.switches import SwitchProcess, mosquitto_config

TERMINALS = ("T1@P2", "T2@P1")  # each registered for its institution
APPS = ("ZH", "ZR")


@dataclass
class Secured:
    url: str  # no credentials
    access: AccessConfig
    broker: str = "mosquitto"  # or "amqtt", the embedded one

    def client(self, channel: str, user: str, sender: str | None = None, **kw: Any) -> SwitchClient:
        """A SwitchClient logged in as ``user`` (speaking as ``sender``, by default the same id)."""
        password = self.access.user(user).password
        host_port = self.url.removeprefix("mqtt://")
        return SwitchClient(f"mqtt://{user}:{password}@{host_port}", channel, sender or user,
                            root=self.access.topic_root, **kw)

    def raw(self, user: str, password: str | None = None) -> aiomqtt.Client:
        host, port = self.url.removeprefix("mqtt://").split(":")
        return aiomqtt.Client(host, int(port), username=user, identifier=user,  # a client id is its login
                              password=password if password is not None else self.access.user(user).password,
                              socket_options=NODELAY)


def write_config(directory: Path, root: str, port: int) -> AccessConfig:
    """Run the real command line, as an operator would."""
    out = mosquitto_config(directory, root, port, TERMINALS, APPS)
    assert f"{root}/pos/T1/req" in out and "mosquitto -c" in out
    return read_access(directory)


@pytest.fixture(scope="module", params=["mosquitto", "amqtt"])
def secured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """The switch behind a broker that enforces the written users and ACL (one per broker for this module)."""
    tmp_path = tmp_path_factory.mktemp("secured")
    topic_root = f"gongji-test/{uuid.uuid4().hex[:12]}"
    port = free_port()
    # Started as root, mosquitto reads its files as user "mosquitto": pytest's tmp_path (0700) is out of reach.
    home = Path(tempfile.mkdtemp(prefix="gongji-access-"))
    home.chmod(0o755)
    access = write_config(home / "access", topic_root, port)
    common = ["--db", str(tmp_path / "ledger.db"), "--clock", "virtual", "--topic-root", topic_root,
              "--access", str(access.directory), "--log-level", "WARNING"]
    broker = None
    if request.param == "mosquitto":
        conf = (access.directory / "mosquitto.conf").read_text()
        broker = MosquittoProcess(extra_config=conf, port=port).start()
        switch = SwitchProcess("--broker", f"mqtt://127.0.0.1:{port}", *common).start()
    else:
        switch = SwitchProcess("--listen", f"127.0.0.1:{port}", *common).start()
        wait_port(port)
    yield Secured(f"mqtt://127.0.0.1:{port}", access, request.param)
    assert switch.terminate() == 0
    if broker is not None:
        broker.stop()
    shutil.rmtree(home, ignore_errors=True)


@contextlib.asynccontextmanager
async def listening(client: aiomqtt.Client, *topics: str) -> AsyncIterator[list[bytes]]:
    """Subscribe to whatever the broker lets us (a refused subscription is fine) and collect what arrives."""
    got: list[bytes] = []
    async with client:
        for topic in topics:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.subscribe(topic, qos=1)

        async def read() -> None:
            async for message in client.messages:
                got.append(bytes(message.payload))

        reader = asyncio.create_task(read())
        try:
            yield got
        finally:
            reader.cancel()


async def publish_quietly(client: aiomqtt.Client, topic: str, body: dict[str, Any]) -> None:
    """Publish what the ACL forbids: the broker may acknowledge and drop it, or not acknowledge at all."""
    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
        await asyncio.wait_for(client.publish(topic, json.dumps(body).encode(), qos=1), 2)


async def load_zibo(secured: Secured) -> None:
    people = [*ZIBO["people"], person("T1", "370300", "10.00")]  # a person named like a terminal
    async with secured.client("admin", "admin", token=None) as admin:
        assert (await admin.request("admin.load", {"people": people, "bindings": ZIBO["bindings"]}))["code"] == "OK"


async def holder_balance(secured: Secured) -> str:
    async with secured.client("admin", "admin") as admin:
        state = await admin.request("admin.state", {"psn_no": "ZH"})
    return str({p["psn_no"]: p["balc"] for p in state["output"]["people"]}["ZH"])


async def test_wrong_or_missing_password_is_refused(secured: Secured) -> None:
    """A terminal with a wrong password, or none, cannot even connect; the right one can."""
    for password in ("wrong", ""):
        with pytest.raises(aiomqtt.MqttError):
            async with secured.raw("T1", password):
                pass
    with pytest.raises(aiomqtt.MqttError):
        host, port = secured.url.removeprefix("mqtt://").split(":")
        async with aiomqtt.Client(host, int(port)):
            pass
    async with secured.raw("T1"):
        pass


async def test_terminal_publishing_on_another_terminals_topic_is_not_processed(secured: Secured) -> None:
    """T1 publishing a settlement on T2's req topic moves nothing and T2 hears nothing; T2's own works."""
    await load_zibo(secured)
    root = secured.access.topic_root
    forged = {"infno": "2102", "msgid": "forged-1", "fixmedins_code": "P1", "input": pharmacy_input("ZR", "50.00")}
    async with secured.client("pos", "T2", fixmedins_code="P1") as t2, secured.raw("T1") as t1:
        await publish_quietly(t1, f"{root}/pos/T2/req", forged)
        own = await t2.request("2102", pharmacy_input("ZR", "20.00"))  # answered after the forged one would be
        assert own["output"]["setlinfo"]["acct_mulaid_pay"] == "20.00"
        assert t2.unmatched.empty()
    assert await holder_balance(secured) == "180.00"


async def test_subscribing_to_another_terminals_answers_receives_nothing(secured: Secured) -> None:
    """T1 subscribing to T2's resp topic (or to a wildcard over all) gets none of T2's answers."""
    await load_zibo(secured)
    root = secured.access.topic_root
    async with listening(secured.raw("T1"), f"{root}/pos/T2/resp", f"{root}/pos/+/resp", f"{root}/#") as spied, \
            secured.client("pos", "T2", fixmedins_code="P1") as t2:
        answer = await t2.request("1101", {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"})
        assert answer["output"]["baseinfo"]["psn_no"] == "ZR"
        await asyncio.sleep(0.5)
    assert [json.loads(m).get("inf_refmsgid") for m in spied] == []


async def test_only_the_admin_user_uses_the_admin_channel(secured: Secured) -> None:
    """A terminal publishing admin.reset is ignored, and it cannot read the admin channel's answers."""
    await load_zibo(secured)
    root = secured.access.topic_root
    t1 = secured.raw("T1")  # one connection: a second one under the same login would take this one's place
    async with listening(t1, f"{root}/admin/resp") as spied:
        await publish_quietly(t1, f"{root}/admin/req", {"infno": "admin.reset", "msgid": "evil-1", "input": {}})
        assert await holder_balance(secured) == "200.00"
        await asyncio.sleep(0.3)
    assert spied == []


async def test_accounts_stay_on_their_own_channel(secured: Secured) -> None:
    """App ZR cannot speak as app ZH, and terminal T1 cannot speak as the member app of psn_no T1."""
    await load_zibo(secured)
    root = secured.access.topic_root
    async with secured.client("app", "ZH") as zh, secured.raw("ZR") as zr, secured.raw("T1") as t1:
        await publish_quietly(zr, f"{root}/app/ZH/req", {"infno": "app.bindings", "msgid": "as-zh", "input": {}})
        await publish_quietly(t1, f"{root}/app/T1/req", {"infno": "app.bindings", "msgid": "as-t1", "input": {}})
        own = await zh.request("app.bindings", {})
        assert own["inf_refmsgid"] and own["code"] != "UNAUTHORIZED"
        await asyncio.sleep(0.3)
        assert zh.unmatched.empty()
    async with secured.client("app", "T1", sender="T1") as impostor:
        with pytest.raises((aiomqtt.MqttError, NoAnswer)):
            await impostor.request("app.bindings", {}, timeout=1)


async def test_a_terminal_cannot_cancel_another_institutions_settlement(secured: Secured) -> None:
    """T1 (registered for P2) cancelling T2's (P1) pooled sale: claiming P1 is UNAUTHORIZED, as itself
    SETTLEMENT_NOT_FOUND; nothing is refunded until T2 cancels it."""
    await load_zibo(secured)
    async with secured.client("pos", "T2", fixmedins_code="P1") as t2:
        sale = await t2.request("2102", pharmacy_input("ZR", "80.00"))
    setl_id = sale["output"]["setlinfo"]["setl_id"]
    assert sale["output"]["setlinfo"]["acct_mulaid_pay"] == "80.00" and await holder_balance(secured) == "120.00"
    cancel = {"setl_id": setl_id, "psn_no": "ZR"}
    async with secured.client("pos", "T1", fixmedins_code="P1") as t1:
        claimed = await t1.request("2103", cancel)
    assert (claimed["code"], claimed["err_msg"]) == (
        "UNAUTHORIZED", "fixmedins_code 'P1' is not the institution terminal T1 is registered for")
    async with secured.client("pos", "T1", fixmedins_code="P2") as t1:
        own = await t1.request("2103", cancel)
    assert (own["code"], own["err_msg"]) == ("SETTLEMENT_NOT_FOUND", f"参保人 ZR 没有结算 {setl_id}")
    assert await holder_balance(secured) == "120.00"
    async with secured.client("pos", "T2", fixmedins_code="P1") as t2:
        refund = await t2.request("2103", cancel)
    assert refund["code"] == "OK" and await holder_balance(secured) == "200.00"


async def test_terminals_and_apps_read_only_their_own_events(secured: Secured) -> None:
    """T2's pooled sale reaches T2, ZR and ZH on their own events topics and the admin on {root}/events;
    T1 hears nothing of it, whatever it subscribes to."""
    await load_zibo(secured)
    root = secured.access.topic_root
    spy_topics = (f"{root}/events", f"{root}/events/#", f"{root}/events/pos/T2", f"{root}/events/app/ZR", f"{root}/#")
    async with listening(secured.raw("T1"), *spy_topics) as spied, \
            secured.client("admin", "admin", events=True) as admin, \
            secured.client("app", "ZR", own_events=True) as zr, secured.client("app", "ZH", own_events=True) as zh, \
            secured.client("pos", "T2", fixmedins_code="P1", own_events=True) as t2:
        sale = await t2.request("2102", pharmacy_input("ZR", "30.00"))
        setl_id = sale["output"]["setlinfo"]["setl_id"]
        for listener in (t2, zr, zh, admin):
            event = await asyncio.wait_for(listener.events.get(), 5)
            assert (event["type"], event["data"]["setl_id"], event["data"]["acct_mulaid_pay"]) == (
                "settlement.committed", setl_id, "30.00")
        await asyncio.sleep(0.5)
    assert spied == []


async def retake_client_ids(secured: Secured, ids: tuple[str, ...], seconds: float) -> list[str]:
    """Log in as terminal T1 under each of ``ids`` again and again for ``seconds``, keeping the session
    (clean_session False), as a hostile terminal would; returns the topics of what it heard."""
    host, port = secured.url.removeprefix("mqtt://").split(":")
    heard: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def read(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            heard.append(str(message.topic))

    while loop.time() < deadline:
        for identifier in ids:
            try:
                async with aiomqtt.Client(host, int(port), username="T1", password=secured.access.user("T1").password,
                                          identifier=identifier, clean_session=False) as intruder:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(read(intruder), 1.0)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)
    return heard


async def test_a_terminal_taking_the_switchs_client_id_neither_hears_requests_nor_silences_it(
        secured: Secured) -> None:
    """T1 re-taking the switch's client id for 8 s hears no request; all 16 of T2's requests are answered (on
    mosquitto at the first try: T1's id is its login), and once T1 stops the switch answers at the first try."""
    await load_zibo(secured)
    root = secured.access.topic_root
    ids = ("gongji-switch", f"gongji-switch-{root.replace('/', '-')}")  # its id with access files, and without
    query = {"mdtrt_cert_type": "01", "mdtrt_cert_no": "QRZR"}
    async with secured.client("pos", "T2", fixmedins_code="P1") as t2:
        intruder = asyncio.create_task(retake_client_ids(secured, ids, 8))
        await asyncio.sleep(0.5)
        retried = 0
        for n in range(16):
            msgid = f"under-attack-{n}"
            for _attempt in range(30):
                try:
                    answer = await t2.request("1101", query, msgid=msgid, timeout=2)
                    break
                except NoAnswer:
                    retried += 1
            else:
                raise AssertionError(f"{msgid} never answered")
            assert (answer["code"], answer["output"]["baseinfo"]["psn_no"]) == ("OK", "ZR")
            await asyncio.sleep(0.3)
        heard = await intruder
        after = await t2.request("1101", query, msgid="after-attack", timeout=15)
    assert [topic for topic in heard if topic.endswith("/req")] == []
    assert after["code"] == "OK"
    if secured.broker == "mosquitto":  # amqtt drops the switch before refusing T1: it reconnects, T2 retries
        assert retried == 0
    print(f"\n{len(heard)} messages heard by the intruder; {retried} retries of T2's 16 requests")
