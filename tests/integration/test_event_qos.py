"""Events go out at QoS 0 and answers at QoS 1, as docs/protocol.md says, to a subscriber that asked for QoS 1.

On mosquitto: the embedded amqtt broker delivers at the subscription's QoS whatever the publisher's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt

from switch.doors.link import parse_broker_url
from tests.support.families import DONGYING, pharmacy_input
from tests.support.switches import in_process_switch


async def test_answers_arrive_at_qos1_and_events_at_qos0(mosquitto_url: str, topic_root: str, tmp_path: Path) -> None:
    """A QoS 1 subscriber of T1's resp topic and of every events topic gets the answer at QoS 1, each event at 0."""
    broker = parse_broker_url(mosquitto_url)
    got: list[tuple[str, int, str]] = []
    async with (in_process_switch(mosquitto_url, topic_root, tmp_path / "qos.db") as live,
                aiomqtt.Client(broker.host, broker.port) as client):
        async with live.client("admin") as admin:
            assert (await admin.request("admin.load", DONGYING, msgid="load-1"))["code"] == "OK"
        await client.subscribe([(f"{live.root}/pos/T1/resp", 1), (f"{live.root}/events/#", 1),
                                (f"{live.root}/events", 1)])
        request = {"infno": "2102", "msgid": "T1-qos-1", "fixmedins_code": "P37050000001",
                   "input": pharmacy_input("DH", "30.00")}
        await client.publish(f"{live.root}/pos/T1/req", json.dumps(request), qos=1)

        async def collect() -> None:
            async for message in client.messages:
                body = json.loads(bytes(message.payload))
                if body.get("type", "settlement.committed") != "settlement.committed":
                    continue  # the load's binding.created events, sent after its answer, may still be on the way
                got.append((str(message.topic).removeprefix(live.root), message.qos,
                            body.get("code") or body.get("type")))
                if len(got) == 4:
                    return

        await asyncio.wait_for(collect(), 10)
    assert sorted(got) == [("/events", 0, "settlement.committed"), ("/events/app/DH", 0, "settlement.committed"),
                           ("/events/pos/T1", 0, "settlement.committed"), ("/pos/T1/resp", 1, "OK")]


async def test_a_big_loads_events_follow_its_answer_in_order(mosquitto_url: str, topic_root: str,
                                                              tmp_path: Path) -> None:
    """admin.load of 200 bindings: the answer first, then each binding.created on /events and both apps, in order."""
    broker = parse_broker_url(mosquitto_url)
    people = [{"psn_no": f"EV{i:04d}", "psn_name": "张伟", "insutype": "310", "insuplc_admdvs": "370500"}
              for i in range(400)]
    bindings = [{"holder_psn_no": f"EV{i:04d}", "relative_psn_no": f"EV{i + 200:04d}", "rltn": "child"}
                for i in range(200)]
    got: list[tuple[str, str]] = []
    async with (in_process_switch(mosquitto_url, topic_root, tmp_path / "big.db") as live,
                aiomqtt.Client(broker.host, broker.port) as client):
        await client.subscribe([(f"{live.root}/admin/resp", 1), (f"{live.root}/events/#", 0),
                                (f"{live.root}/events", 0)])
        request = {"infno": "admin.load", "msgid": "load-big", "input": {"people": people, "bindings": bindings}}
        await client.publish(f"{live.root}/admin/req", json.dumps(request), qos=1)

        async def collect() -> None:
            async for message in client.messages:
                body = json.loads(bytes(message.payload))
                topic = str(message.topic).removeprefix(live.root)
                got.append((topic, body.get("code") or body["data"]["relative_psn_no"]))
                if len(got) == 1 + 3 * 200:
                    return

        try:
            await asyncio.wait_for(collect(), 20)
        except TimeoutError:
            raise AssertionError(f"{len(got)} messages: {got[:3]}") from None
    assert got[0] == ("/admin/resp", "OK")
    for topic in ("/events", *(f"/events/app/EV{i:04d}" for i in range(400))):
        expected = [f"EV{i + 200:04d}" for i in range(200)] if topic == "/events" else (
            [f"EV{int(topic[-4:]) % 200 + 200:04d}"] if topic.startswith("/events/app/") else [])
        assert [r for t, r in got if t == topic] == expected
