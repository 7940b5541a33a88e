"""The door's gathered writes on real brokers: a burst bigger than the socket's buffer arrives whole and in order."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from switch.doors.link import NODELAY, parse_broker_url
from switch.doors.publish import MAX_INFLIGHT, _GatheredSends, gather_sends, publish_nowait
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


async def test_the_pubacks_of_a_burst_are_settled_as_they_are_read(broker_url: str, topic_root: str) -> None:
    """3,000 QoS 1 answers written by the door's own path: every one awaits the broker's PUBACK, each PUBACK
    strikes its answer off, none reaches paho's store, and the session goes on."""
    broker = parse_broker_url(broker_url)
    async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY,
                              max_inflight_messages=MAX_INFLIGHT) as client:
        gather_sends(client)
        inner = client._client
        sock = inner._sock
        assert isinstance(sock, _GatheredSends) and sock.settles
        for i in range(3000):
            publish_nowait(client, f"{topic_root}/pos/T{i % 7}/resp", b"%06d" % i)
        assert len(sock.awaiting) == 3000 and not inner._out_messages

        async def acknowledged() -> None:
            while sock.awaiting:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(acknowledged(), 15)
        assert not inner._out_messages and inner._inflight_messages == 0
        publish_nowait(client, f"{topic_root}/pos/T1/resp", b"after")  # the session is still whole
        assert len(sock.awaiting) == 1
        await asyncio.wait_for(acknowledged(), 5)


@pytest.mark.parametrize("count,answering", [(3000, True), (100, False)], ids=["answering", "silent"])
async def test_a_burst_read_in_bulk_reaches_the_session_whole_and_in_order(broker_url: str, topic_root: str,
                                                                           count: int, answering: bool) -> None:
    """A gathered session subscribed at QoS 1 hears every request of a burst once, in order: answering each
    at QoS 1 (PUBACKs and PUBLISHes mixed in its reads), or silent (paho then asks for one packet a call,
    and what one read brought must still all be handed on)."""
    broker = parse_broker_url(broker_url)
    heard: list[bytes] = []
    async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY,
                              max_inflight_messages=MAX_INFLIGHT) as door:
        gather_sends(door)
        await door.subscribe(f"{topic_root}/pos/+/req", qos=1)
        async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY,
                                  max_inflight_messages=MAX_INFLIGHT) as till:
            for i in range(count):
                publish_nowait(till, f"{topic_root}/pos/T1/req", b"%06d" % i + b"r" * 300)

            async def hear() -> None:
                async for message in door.messages:
                    assert isinstance(message.payload, bytes)
                    heard.append(message.payload)
                    if answering:
                        publish_nowait(door, f"{topic_root}/pos/T1/resp", message.payload[:6])
                    if len(heard) == count:
                        return

            await asyncio.wait_for(hear(), 30)
        sock = door._client._sock
        assert isinstance(sock, _GatheredSends)
        for _ in range(200):
            if not sock.awaiting:
                break
            await asyncio.sleep(0.05)
        assert not sock.awaiting
    assert heard == [b"%06d" % i + b"r" * 300 for i in range(count)]


async def test_requests_handed_to_the_door_are_each_acknowledged_once(broker_url: str, topic_root: str) -> None:
    """With a handler, a persistent session hears 500 QoS 1 requests whole and in order, and acknowledges
    every one: after a reconnect the broker has nothing to deliver again, and the next request comes alone."""
    broker = parse_broker_url(broker_url)
    door_id = f"gather-door-{topic_root[-12:]}"
    heard: list[tuple[str, bytes]] = []
    sent = [(f"{topic_root}/pos/T{i % 3}/req", b"%05d" % i + b"q" * 200) for i in range(500)]

    async def until(count: int, seconds: float) -> None:
        async def wait() -> None:
            while len(heard) < count:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(wait(), seconds)

    def session() -> aiomqtt.Client:
        return aiomqtt.Client(broker.host, broker.port, identifier=door_id, clean_session=False,
                              socket_options=NODELAY, max_inflight_messages=MAX_INFLIGHT)

    async with aiomqtt.Client(broker.host, broker.port, socket_options=NODELAY,
                              max_inflight_messages=MAX_INFLIGHT) as till:
        async with session() as door:
            gather_sends(door, lambda topic, payload: heard.append((topic, payload)))
            await door.subscribe(f"{topic_root}/pos/+/req", qos=1)
            for topic, payload in sent:
                publish_nowait(till, topic, payload)
            await until(500, 30)
            await asyncio.sleep(0.2)  # the PUBACKs are written in the next turns
        assert heard == sent
        async with session() as door:
            gather_sends(door, lambda topic, payload: heard.append((topic, payload)))
            await asyncio.sleep(1.0)
            assert len(heard) == 500, "the broker delivered requests again: they were not acknowledged"
            publish_nowait(till, f"{topic_root}/pos/T9/req", b"next")
            await until(501, 10)
            await asyncio.sleep(0.3)
    assert heard[500:] == [(f"{topic_root}/pos/T9/req", b"next")]
