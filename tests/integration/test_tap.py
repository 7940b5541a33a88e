"""The watcher's listen-only MQTT session on real brokers: every message whole, in order, and broker trouble raised."""

from __future__ import annotations

import asyncio
import socket

import aiomqtt
import pytest

from switch.doors.link import parse_broker_url
from switch.doors.tap import Tap, TapError


async def _listening(tap: Tap, heard: list[tuple[str, bytes]], until: int, timeout: float = 10) -> None:
    """Listen until ``until`` messages arrived (the listener itself runs until the connection ends)."""
    done = asyncio.Event()

    def on_message(topic: str, payload: bytes) -> None:
        heard.append((topic, payload))
        if len(heard) >= until:
            done.set()

    listener = asyncio.ensure_future(tap.listen(on_message))
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_hears_every_message_under_its_filter_whole_and_in_order(broker_url: str, topic_root: str) -> None:
    """300 small messages, a 60,000-byte one and a Chinese topic arrive whole, in order; others are not heard."""
    broker = parse_broker_url(broker_url)
    sent = [(f"{topic_root}/pos/T{i % 7}/req", f'{{"n":{i}}}'.encode()) for i in range(300)]
    sent.append((f"{topic_root}/big", bytes(range(256)) * 234 + b"end"))
    sent.append((f"{topic_root}/药店/T1", "共济".encode()))
    heard: list[tuple[str, bytes]] = []
    async with Tap(broker, "tap-test-order") as tap:
        await tap.subscribe([f"{topic_root}/#"])
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish(f"{topic_root}-elsewhere/x", b"not under the filter", qos=1)
            for topic, payload in sent:
                await client.publish(topic, payload, qos=1)
            await _listening(tap, heard, len(sent))
    assert heard == sent
    assert len(heard[300][1]) == 59_907


async def test_hears_its_own_qos0_publish(broker_url: str, topic_root: str) -> None:
    """What the session publishes (its liveness probe) comes back to it on a topic it subscribed to."""
    heard: list[tuple[str, bytes]] = []
    async with Tap(parse_broker_url(broker_url), "tap-test-probe") as tap:
        await tap.subscribe([f"probe-{topic_root}"])
        tap.publish(f"probe-{topic_root}", b'{"probe":"1"}')
        await _listening(tap, heard, 1)
    assert heard == [(f"probe-{topic_root}", b'{"probe":"1"}')]


async def test_pings_keep_a_quiet_session_connected(broker_url: str, topic_root: str) -> None:
    """With a 1 s keepalive and nothing to hear for 3 s, the broker keeps the session: a message after it arrives."""
    broker = parse_broker_url(broker_url)
    heard: list[tuple[str, bytes]] = []
    async with Tap(broker, "tap-test-ping", keepalive=1) as tap:
        await tap.subscribe([f"{topic_root}/#"])
        listener = asyncio.ensure_future(tap.listen(lambda topic, payload: heard.append((topic, payload))))
        await asyncio.sleep(3)
        assert not listener.done()
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish(f"{topic_root}/late", b"still here", qos=1)
        for _ in range(100):
            if heard:
                break
            await asyncio.sleep(0.05)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert heard == [(f"{topic_root}/late", b"still here")]


async def test_nothing_listening_is_a_tap_error_an_mqtt_error() -> None:
    """A port with no broker is TapError (an aiomqtt.MqttError, so keep_connected retries it), naming the URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TapError, match=f"cannot connect to mqtt://127.0.0.1:{port}") as caught:
        async with Tap(parse_broker_url(f"mqtt://127.0.0.1:{port}"), "tap-test-none"):
            pass
    assert isinstance(caught.value, aiomqtt.MqttError)


async def test_a_closed_connection_ends_listen_with_tap_error(mosquitto_url: str, topic_root: str) -> None:
    """When mosquitto drops the session (another client takes its client id), listen raises TapError.

    (amqtt leaves the old connection open and deaf instead: the watcher's probes find that.)
    """
    broker = parse_broker_url(mosquitto_url)
    async with Tap(broker, f"tap-test-taken-{topic_root[-12:]}") as tap:
        await tap.subscribe([f"{topic_root}/#"])
        listener = asyncio.ensure_future(tap.listen(lambda topic, payload: None))
        async with Tap(broker, f"tap-test-taken-{topic_root[-12:]}"):
            with pytest.raises(TapError, match=r"closed the connection|lost"):
                await asyncio.wait_for(listener, 10)
