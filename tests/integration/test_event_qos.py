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
