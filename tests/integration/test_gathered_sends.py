"""The door's gathered writes on real brokers: a burst bigger than the socket's buffer arrives whole and in order."""

from __future__ import annotations

import asyncio

import aiomqtt

from switch.doors.link import NODELAY, parse_broker_url
from switch.doors.publish import MAX_INFLIGHT, gather_sends, publish_nowait
from switch.doors.tap import Tap


async def test_a_burst_of_4000_publishes_in_one_turn_arrives_whole_and_in_order(broker_url: str,
                                                                                topic_root: str) -> None:
    """4,000 QoS 1 messages of 1 KiB queued in one turn (4 MiB, past any socket buffer) all arrive, in order."""
    broker = parse_broker_url(broker_url)
    sent = [(f"{topic_root}/pos/T{i % 5}/resp", b"%06d" % i + b"x" * 1018) for i in range(4000)]
    heard: list[tuple[str, bytes]] = []
    done = asyncio.Event()

    def on_message(topic: str, payload: bytes) -> None:
        heard.append((topic, payload))
        if len(heard) == len(sent):
            done.set()

    async with Tap(broker, f"gather-test-{topic_root[-12:]}") as tap:
        await tap.subscribe([f"{topic_root}/#"])
        listener = asyncio.ensure_future(tap.listen(on_message))
        async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY,
                                  max_inflight_messages=MAX_INFLIGHT) as client:
            gather_sends(client)
            assert client._client.on_publish is None
            for topic, payload in sent:
                publish_nowait(client, topic, payload)
            await asyncio.wait_for(done.wait(), 30)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert heard == sent
