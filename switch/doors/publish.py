"""QoS 1 publishing for request/response at high rates: hand the message to paho and move on.

Strategy: ``aiomqtt.Client.publish`` waits for the broker's PUBACK with an Event, a ``wait_for``
task and a scan of every pending call (plus a warning log line per publish above 10 pending); at
thousands of answers per second that costs more than the answer itself. The PUBACK adds no
promise here: paho keeps an unacknowledged QoS 1 message and sends it again after a reconnect,
and a lost answer is recovered by the sender's retry with the same msgid. So the message is
queued on paho directly, and only refusal at the door (not connected) is reported.

paho then writes every packet with a system call of its own, and tells a publish callback about
each one with two objects built for it. ``gather_sends`` gathers a session's packets and writes
them once per turn of the event loop (an answer and its events are one write; under load, the
answers of a whole commit batch are), and drops the callback, which only ``aiomqtt``'s awaiting
``publish`` needs.

Reading, paho asks the socket for a packet's first byte, then each byte of its length, then its
body: about five system calls a request (the request, and the PUBACK of its answer). The gathered
socket reads what the kernel holds in one call and serves paho's small reads from memory. The
PUBACKs of the session's own QoS 1 answers, half the packets it hears, are settled there and
then (the message leaves paho's store of unacknowledged ones, as paho would do) instead of
each being parsed by paho into a reason code and a properties object for a callback nobody set.
aiomqtt's reader keeps calling paho while ``pending()`` says bytes are waiting in memory.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

__all__ = ["MAX_INFLIGHT", "gather_sends", "publish_at_most_once", "publish_nowait", "split_pubacks"]

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
    info = client._client.publish(topic, payload, qos)
    if info.rc != paho.MQTT_ERR_SUCCESS:
        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")


def split_pubacks(raw: bytearray, ready: bytearray) -> list[int]:
    """Move the complete packets at the front of ``raw`` to ``ready``, but for PUBACKs: their packet ids are returned.

    An incomplete packet stays in ``raw`` for the next read. A length that MQTT does not allow (more
    than four bytes) is passed on with everything after it, for paho to refuse the connection.
    """
    acked: list[int] = []
    at, start, end = 0, 0, len(raw)
    while at < end:
        length, shift, i = 0, 0, at + 1
        while True:
            if i >= end:
                length = -1  # the length is not all here yet
                break
            byte = raw[i]
            length |= (byte & 0x7F) << shift
            i += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                ready += raw[start:]
                del raw[:]
                return acked
        if length < 0 or i + length > end:
            break
        if raw[at] == PUBACK and length == 2:
            ready += raw[start:at]
            acked.append(raw[i] << 8 | raw[i + 1])
            start = i + 2
        at = i + length
    ready += raw[start:at]
    del raw[:at]
    return acked


class _GatheredSends:
    """paho's socket: sends gathered and written once per turn of the event loop, reads taken in bulk."""

    def __init__(self, sock: socket.socket, loop: asyncio.AbstractEventLoop, client: paho.Client) -> None:
        self._sock = sock
        self._loop = loop
        self._pending = bytearray()
        self._scheduled = False
        self._failed: OSError | None = None
        self._client = client
        self._raw = bytearray()  # read, not yet a whole packet
        self._ready = bytearray()  # whole packets, for paho
        # Settling PUBACKs in place skips what paho does on one: the publish callback (gather_sends drops
        # it), the wake of a thread waiting on the message's info (the door never waits) and, with a limit
        # of messages in flight, sending the next queued one (the door sets no limit).
        self._settles = client._protocol == paho.MQTTv311 and client._max_inflight_messages == 0

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes of whole packets; BlockingIOError when none are waiting, b"" at the end."""
        ready = self._ready
        while not ready:
            data = self._sock.recv(READ_SIZE)  # BlockingIOError: nothing waiting; paho tries again later
            if not data:
                return b""
            if not self._settles:
                ready += data
                break
            self._raw += data
            acked = split_pubacks(self._raw, ready)
            if acked:
                self._settle(acked)
        taken = bytes(ready[:size])
        del ready[:size]
        return taken

    def pending(self) -> int:
        """Bytes read and not yet taken by paho (aiomqtt's reader calls paho again while there are)."""
        return len(self._ready)

    def _settle(self, acked: list[int]) -> None:
        client = self._client
        with client._out_message_mutex:
            store = client._out_messages
            for mid in acked:
                message = store.pop(mid, None)
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
    if not isinstance(sock, _GatheredSends) or inner._protocol != paho.MQTTv311:
        for topic, payload in messages:
            publish_nowait(client, topic, payload, 0)
        return
    if not inner.is_connected():
        raise aiomqtt.MqttCodeError(paho.MQTT_ERR_NO_CONN, "Could not publish message")
    out = bytearray()
    for topic, payload in messages:
        name = topic.encode()
        length = 2 + len(name) + len(payload)
        out.append(0x30)
        while True:  # the remaining length, 7 bits a byte, the high bit saying more follow
            digit, length = length & 0x7F, length >> 7
            out.append(digit | 0x80 if length else digit)
            if not length:
                break
        out += len(name).to_bytes(2, "big")
        out += name
        out += payload
    # One entry in paho's own queue, behind the answer it holds, written when paho writes; command 0 is
    # no packet type paho acts on once written (a QoS 0 PUBLISH would want its message-info object).
    inner._packet_queue(0, bytes(out), 0, 0)


def gather_sends(client: aiomqtt.Client) -> None:
    """Once connected: write ``client``'s packets once per loop turn, with no publish callback each; read in bulk."""
    inner = client._client
    sock = inner._sock
    inner.on_publish = None  # only aiomqtt's awaiting publish() listens, and the door never calls it
    if isinstance(sock, socket.socket):
        inner._sock = _GatheredSends(sock, asyncio.get_running_loop(), inner)
