"""A listen-only MQTT 3.1.1 session at QoS 0 that reads in bulk: for watching everything under a root.

Strategy: the journal's stray watcher hears every message under the root, so each request, answer
and event a second time, and nearly all of them are the switch's own traffic, dropped at a glance.
paho reads each packet with several system calls and builds several objects for it before anyone
sees its topic: through it the watcher cost the switch more than settling. This session reads what
the socket holds in one call, splits it into packets in place and hands the topic and payload of
each PUBLISH to a plain callback, with no task or queue per message. It speaks only what watching
needs: CONNECT (clean session), SUBSCRIBE at QoS 0, PUBLISH at QoS 0 (its liveness probes),
PINGREQ and DISCONNECT; anything else the broker sends is skipped. Broker trouble is raised as
``TapError``, an ``aiomqtt.MqttError``, so ``keep_connected`` treats it as any lost session.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from types import TracebackType

import aiomqtt

from switch.doors.link import BrokerAddress

__all__ = ["PUBLISH", "Tap", "TapError", "mqtt_packet", "packet_span"]

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 14
READ_SIZE = 256 * 1024
HANDSHAKE_SECONDS = 10.0
_REFUSED = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
            4: "bad user name or password", 5: "not authorized"}


class TapError(aiomqtt.MqttError):
    """The broker refused the session, ended it, or sent what MQTT 3.1.1 does not allow.

    ``connack`` is the broker's return code when it refused the CONNECT.
    """

    def __init__(self, message: str, connack: int | None = None) -> None:
        super().__init__(message)
        self.connack = connack


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return len(data).to_bytes(2, "big") + data


def mqtt_packet(kind: int, flags: int, body: bytes) -> bytes:
    length, header = len(body), bytearray([kind << 4 | flags])
    while True:
        byte, length = length & 0x7F, length >> 7
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def packet_span(buf: bytearray, at: int) -> tuple[int, int] | None:
    """(where the body starts, where it ends) of the packet at ``at`` in ``buf``; None while it is incomplete.

    A remaining length of more than four bytes is not MQTT: ValueError.
    """
    size, shift, i, n = 0, 0, at + 1, len(buf)
    while True:
        if i >= n:
            return None
        byte = buf[i]
        i += 1
        size |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 21:
            raise ValueError("malformed remaining length")
    return (i, i + size) if i + size <= n else None


class Tap:
    """One session: ``async with Tap(...) as tap``, ``await tap.subscribe([...])``, ``await tap.listen(on_message)``."""

    def __init__(self, broker: BrokerAddress, client_id: str, keepalive: int = 30) -> None:
        self.broker = broker
        self.client_id = client_id
        self.keepalive = keepalive
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = bytearray()
        self._sent_at = time.monotonic()

    async def __aenter__(self) -> Tap:
        try:
            self._reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.broker.host, self.broker.port), HANDSHAKE_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise TapError(f"cannot connect to {self.broker.url}: {exc}") from None
        self._writer = writer
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        flags = 0x02 | (0x80 if self.broker.username is not None else 0) | (
            0x40 if self.broker.password is not None else 0)
        body = _string("MQTT") + bytes([4, flags]) + self.keepalive.to_bytes(2, "big") + _string(self.client_id)
        if self.broker.username is not None:
            body += _string(self.broker.username)
        if self.broker.password is not None:
            body += _string(self.broker.password)
        self._send(mqtt_packet(CONNECT, 0, body))
        kind, answer = await self._handshake()
        if kind != CONNACK or len(answer) != 2:
            raise TapError(f"{self.broker.url} answered CONNECT with packet type {kind}")
        if answer[1]:
            raise TapError(f"{self.broker.url} refused the connection: {_REFUSED.get(answer[1], answer[1])}",
                           connack=answer[1])
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            if not writer.is_closing():
                writer.write(mqtt_packet(DISCONNECT, 0, b""))
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 2)

    def publish(self, topic: str, payload: bytes) -> None:
        """Send one message at QoS 0, not retained."""
        self._send(mqtt_packet(PUBLISH, 0, _string(topic) + payload))

    async def subscribe(self, filters: list[str]) -> None:
        """Subscribe to ``filters`` at QoS 0 and wait for the broker to grant every one."""
        body = (1).to_bytes(2, "big") + b"".join(_string(f) + b"\x00" for f in filters)
        self._send(mqtt_packet(SUBSCRIBE, 0x02, body))
        kind, answer = await self._handshake()
        if kind != SUBACK or answer[:2] != b"\x00\x01" or len(answer) != 2 + len(filters):
            raise TapError(f"{self.broker.url} answered SUBSCRIBE with packet type {kind}")
        if 0x80 in answer[2:]:
            raise TapError(f"{self.broker.url} refused the subscription to {filters}")

    async def listen(self, on_message: Callable[[str, bytes], None]) -> None:
        """Hand every PUBLISH to ``on_message(topic, payload)`` until the connection ends (``TapError``)."""
        pinger = asyncio.ensure_future(self._ping())
        try:
            while True:
                await self._fill()
                self._split(on_message)
        finally:
            pinger.cancel()

    # --- the wire ------------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._writer is None or self._writer.is_closing():
            raise TapError(f"the connection to {self.broker.url} is closed")
        self._writer.write(data)
        self._sent_at = time.monotonic()

    async def _ping(self) -> None:
        """A PINGREQ whenever nothing was sent for half the keepalive: the broker hears from us in time."""
        half = self.keepalive / 2
        while True:
            await asyncio.sleep(max(0.0, half - (time.monotonic() - self._sent_at)))
            if time.monotonic() - self._sent_at >= half:
                self._send(mqtt_packet(PINGREQ, 0, b""))

    async def _fill(self) -> None:
        assert self._reader is not None
        try:
            data = await self._reader.read(READ_SIZE)
        except OSError as exc:
            raise TapError(f"connection to {self.broker.url} lost: {exc}") from None
        if not data:
            raise TapError(f"{self.broker.url} closed the connection")
        self._buffer += data

    async def _handshake(self) -> tuple[int, bytes]:
        """The next packet (type, body), within ``HANDSHAKE_SECONDS``: for CONNACK and SUBACK."""
        async with asyncio.timeout(HANDSHAKE_SECONDS):
            while True:
                found = self._next()
                if found is not None:
                    return found
                await self._fill()

    def _next(self) -> tuple[int, bytes] | None:
        """Take one whole packet off the buffer, or None while it is incomplete."""
        header = self._header(self._buffer, 0)
        if header is None:
            return None
        start, end = header
        first, body = self._buffer[0], bytes(self._buffer[start:end])
        del self._buffer[:end]
        return first >> 4, body

    @staticmethod
    def _header(buf: bytearray, at: int) -> tuple[int, int] | None:
        try:
            return packet_span(buf, at)
        except ValueError as exc:
            raise TapError(f"{exc} from the broker") from None

    def _split(self, on_message: Callable[[str, bytes], None]) -> None:
        """Every whole packet in the buffer: each PUBLISH to ``on_message``, the rest skipped."""
        buf, at = self._buffer, 0
        while True:
            header = self._header(buf, at)
            if header is None:
                break
            start, end = header
            first = buf[at]
            at = end
            if first >> 4 != PUBLISH or end - start < 2:
                continue  # PINGRESP, or what a listener has no use for
            topic_end = start + 2 + (buf[start] << 8 | buf[start + 1])
            qos = (first >> 1) & 3
            payload_at = topic_end + (2 if qos else 0)
            if qos == 1:  # never asked for, but a broker that sends it gets its acknowledgement
                self._send(mqtt_packet(PUBACK, 0, bytes(buf[topic_end:payload_at])))
            topic = buf[start + 2:topic_end].decode("utf-8", "replace")
            on_message(topic, bytes(buf[payload_at:end]))
        del buf[:at]
