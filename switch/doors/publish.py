"""QoS 1 publishing for request/response at high rates: write the message and move on.

Strategy: ``aiomqtt.Client.publish`` waits for the broker's PUBACK with an Event, a ``wait_for``
task and a scan of every pending call (plus a warning log line per publish above 10 pending); at
thousands of answers per second that costs more than the answer itself. The PUBACK adds no
promise here: the door's session is a new client after every reconnect, so nothing unacknowledged
is sent again, and a lost answer is recovered by the sender's retry with the same msgid. So the
message is written without waiting, and only refusal at the door (not connected) is reported.

On a gathered session (``gather_sends``, the door's) the door's PUBLISH packets are built here and
written through the gathered socket: paho would build a message, an info object with a lock and
a condition, and a log call for each, and write every packet with a system call of its own. The
socket gathers everything written in one turn of the event loop into one write (an answer and its
events; under load, the answers of a whole commit batch), paho's own packets (the PUBACKs of
requests, pings) in the same order as they come.

Reading, paho asks the socket for a packet's first byte, then each byte of its length, then its
body: about five system calls a request (the request, and the PUBACK of its answer). The gathered
socket reads what the kernel holds in one call and serves paho's small reads from memory. The
PUBACKs of the door's answers, half the packets it hears, are taken out there (``split_packets``)
and only strike the answer off the ones awaiting the broker's word, instead of each being parsed
by paho into a reason code and a properties object for a callback nobody set. The requests, the
other half, are acknowledged there and handed to the door's own handler, as the Tap hands on what
the journal's watcher hears: paho would make a message object of each, aiomqtt another and a queue
entry, and a task would take it off the queue. paho still reads the rest (CONNACK, SUBACK,
PINGRESP); aiomqtt's reader keeps calling paho while ``pending()`` says whole packets wait in memory.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from switch.doors.tap import PUBLISH, mqtt_packet, packet_span

__all__ = ["MAX_INFLIGHT", "Publish", "acknowledged", "gather_sends", "hold_requests", "publish_at_most_once",
           "publish_nowait", "split_packets"]

# paho lets 20 QoS 1 messages await their PUBACK and queues the rest, so a switch answering
# hundreds of requests at once would wait a broker round trip per 20 answers. 0 lifts the limit,
# and with it paho's scan of every in-flight message on each PUBACK (quadratic in a burst, such
# as the binding.created events of a big admin.load).
MAX_INFLIGHT = 0
RETRY_SECONDS = 0.001  # when the socket's buffer is full: the broker reads slower than we write
READ_SIZE = 64 * 1024
PUBACK = 0x40  # MQTT 3.1.1: packet type 4, no flags; its remaining length is 2, the packet id


def publish_nowait(client: aiomqtt.Client, topic: str, payload: bytes, qos: int = 1) -> None:
    """Queue ``payload`` on ``topic``; raise ``aiomqtt.MqttCodeError`` if paho refuses it (not connected)."""
    # aiomqtt 2.x keeps its paho client in ``_client``; this module is the one place that relies on it.
    inner = client._client
    sock = inner._sock
    if isinstance(sock, _GatheredSends) and sock.settles:
        if not inner.is_connected():
            raise aiomqtt.MqttCodeError(paho.MQTT_ERR_NO_CONN, "Could not publish message")
        sock.publish(topic, payload, qos)
        return
    info = inner.publish(topic, payload, qos)
    if info.rc != paho.MQTT_ERR_SUCCESS:
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")


def _publish_packet(topic: str, payload: bytes, qos: int, mid: int) -> bytes:
    """An MQTT 3.1.1 PUBLISH: the topic, at QoS 1 the packet id, the payload (the Tap's framing)."""
    name = topic.encode()
    packet_id = mid.to_bytes(2, "big") if qos else b""
    return mqtt_packet(PUBLISH, qos << 1, len(name).to_bytes(2, "big") + name + packet_id + payload)


Publish = tuple[int, bytes, bytes]  # (packet id, 0 at QoS 0; topic; payload)


def split_packets(raw: bytearray, ready: bytearray, publishes: list[Publish] | None = None) -> list[int]:
    """Move the complete packets at the front of ``raw`` to ``ready``, but for PUBACKs: their packet ids are returned.

    With ``publishes``, each PUBLISH at QoS 0 or 1 is appended to it instead. An incomplete packet
    stays in ``raw`` for the next read. What MQTT does not allow (a length of more than four bytes, a
    topic longer than its packet) is passed on, the rest of the stream with it, for paho to refuse.
    """
    acked: list[int] = []
    at, start, end = 0, 0, len(raw)
    while at < end:
        try:
            span = packet_span(raw, at)
        except ValueError:  # not MQTT: paho refuses it
            ready += raw[start:]
            del raw[:]
            return acked
        if span is None:  # the rest of this packet is not here yet
            break
        i, stop = span
        length = stop - i
        first = raw[at]
        if first == PUBACK and length == 2:
            ready += raw[start:at]
            acked.append(raw[i] << 8 | raw[i + 1])
            start = stop
        elif publishes is not None and first >> 4 == 3 and not first & 0x04 and length >= 2:  # QoS 0 or 1
            topic_end = i + 2 + (raw[i] << 8 | raw[i + 1])
            payload_at = topic_end + (2 if first & 0x02 else 0)
            if payload_at <= stop:
                ready += raw[start:at]
                mid = raw[topic_end] << 8 | raw[topic_end + 1] if first & 0x02 else 0
                publishes.append((mid, bytes(raw[i + 2:topic_end]), bytes(raw[payload_at:stop])))
                start = stop
        at = stop
    ready += raw[start:at]
    del raw[:at]
    return acked


class _GatheredSends:
    """paho's socket: sends gathered and written once per turn of the event loop, reads taken in bulk."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop, client: paho.Client,
                 on_message: Callable[[str, bytes], None] | None = None) -> None:
        self._sock = sock
        self._loop = loop
        self._pending = bytearray()
        self._scheduled = False
        self._failed: OSError | None = None
        self._client = client
        self._raw = bytearray()  # read, not yet a whole packet
        self._ready = bytearray()  # whole packets, for paho
        self.awaiting: set[int] = set()  # the packet ids of the door's QoS 1 PUBLISHes not yet acknowledged
        self.holding = False  # stopping: PUBLISHes heard are left to the broker (not acknowledged, not handed on)
        # Settling PUBACKs in place skips what paho does on one: the publish callback (gather_sends drops
        # it), the wake of a thread waiting on the message's info (the door never waits) and, with a limit
        # of messages in flight, sending the next queued one (the door sets no limit).
        self.settles = client._protocol == paho.MQTTv311 and client._max_inflight_messages == 0
        # Given a handler, the PUBLISHes the session hears (QoS 0 and 1) go to it, acknowledged first.
        self._on_message = on_message if self.settles else None

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes of whole packets; BlockingIOError when none are waiting, b"" at the end."""
        ready = self._ready
        while not ready:
            data = self._sock.recv(READ_SIZE)  # BlockingIOError: nothing waiting; paho tries again later
            if not data:
                return b""
            if not self.settles:
                ready += data
                break
            self._raw += data
            publishes: list[Publish] | None = [] if self._on_message is not None else None
            acked = split_packets(self._raw, ready, publishes)
            if acked:
                self._settle(acked)
            if publishes:
                self._hand_on(publishes)
        taken = bytes(ready[:size])
        del ready[:size]
        return taken

    def pending(self) -> int:
        """Bytes read and not yet taken by paho (aiomqtt's reader calls paho again while there are)."""
        return len(self._ready)

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Write a PUBLISH of the door's (at QoS 1 with a packet id of paho's, so none is used twice)."""
        mid = 0
        if qos:
            mid = self._client._mid_generate()
            self.awaiting.add(mid)
        self.send(_publish_packet(topic, payload, qos, mid))

    def _hand_on(self, publishes: list[Publish]) -> None:
        """Acknowledge the QoS 1 ones (as paho would, before any handler runs), then hand each on."""
        if self.holding:
            return
        acks = bytearray()
        for mid, _, _ in publishes:
            if mid:
                acks += bytes((PUBACK, 2, mid >> 8, mid & 0xFF))
        if acks:
            self.send(bytes(acks))
        on_message = self._on_message
        assert on_message is not None  # only called when there is one
        for _, topic, payload in publishes:
            on_message(topic.decode("utf-8", "replace"), payload)

    def _settle(self, acked: list[int]) -> None:
        awaiting = self.awaiting
        client = self._client
        for mid in acked:
            if mid in awaiting:
                awaiting.discard(mid)
                continue
            with client._out_message_mutex:  # one paho published itself (none on the door's session)
                message = client._out_messages.pop(mid, None)
                if message is not None and message.qos > 0:
                    client._inflight_messages -= 1

    def __getattr__(self, name: str) -> Any:  # recv, setblocking, ...: the socket's own
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes | bytearray) -> int:
        if self._failed is not None:
            raise self._failed  # paho then treats the connection as lost
        self._pending += data
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return len(data)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending or self._failed is not None:
            return
        try:
            sent = self._sock.send(self._pending)
        except BlockingIOError:
            sent = 0
        except OSError as exc:  # the reader sees the loss too; a later send raises it to paho
            self._failed = exc
            return
        del self._pending[:sent]
        if self._pending:
            self._scheduled = True
            self._loop.call_later(RETRY_SECONDS, self._flush)

    def close(self) -> None:
        self._flush()  # what was queued before a DISCONNECT goes out ahead of it
        self._sock.close()


def publish_at_most_once(client: aiomqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    """Queue ``messages`` (topic, payload) at QoS 0 in order; raise ``aiomqtt.MqttCodeError`` if not connected.

    A QoS 0 PUBLISH of MQTT 3.1.1 is the topic and the payload behind a fixed header: no packet id, no
    state kept after it is written. paho builds it with a message-info object, a lock and a log call
    each (about 25 µs), which for the events of a big ``admin.load`` (150,000 publishes) cost more than
    deciding the load; on a gathered session they are built here and queued on paho as one write,
    behind what it holds already (the answer these events follow).
    """
    inner = client._client
    sock = inner._sock
    if not isinstance(sock, _GatheredSends) or not sock.settles:
        for topic, payload in messages:
            publish_nowait(client, topic, payload, 0)
        return
    if not inner.is_connected():
        raise aiomqtt.MqttCodeError(paho.MQTT_ERR_NO_CONN, "Could not publish message")
    sock.send(b"".join(_publish_packet(topic, payload, 0, 0) for topic, payload in messages))


def hold_requests(client: aiomqtt.Client) -> None:
    """Stopping: what the session hears from now on is neither acknowledged nor handed on. The broker keeps
    those requests (a persistent session's unacknowledged messages go to the next one), while the PUBACKs of
    the answers already sent are still read."""
    sock = client._client._sock
    if isinstance(sock, _GatheredSends):
        sock.holding = True


async def acknowledged(client: aiomqtt.Client, seconds: float) -> bool:
    """Until the broker has acknowledged every QoS 1 PUBLISH the door wrote on ``client`` (at most ``seconds``,
    or until the connection is lost); whether it has."""
    sock = client._client._sock
    if not isinstance(sock, _GatheredSends):
        return True
    deadline = asyncio.get_running_loop().time() + seconds
    while sock.awaiting and client._client.is_connected() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.005)
    return not sock.awaiting


def gather_sends(client: aiomqtt.Client, on_message: Callable[[str, bytes], None] | None = None) -> None:
    """Once connected: write ``client``'s packets once per loop turn, with no publish callback each; read in bulk.

    ``on_message(topic, payload)``, if given, is called with every message the session hears from
    then on, in order, instead of paho and aiomqtt making a message object and a queue entry of each.
    """
    inner = client._client
    sock = inner._sock
    inner.on_publish = None  # only aiomqtt's awaiting publish() listens, and the door never calls it
    if isinstance(sock, socket.socket):
        inner._sock = _GatheredSends(sock, asyncio.get_running_loop(), inner, on_message)
