"""The MQTT adapter: requests from the broker to the service, replies and events back.

It only moves bytes: parse the topic, hand the payload on as its own task, publish what comes
back on the sender's resp topic. Broker trouble becomes a reconnect with backoff, never a crash;
an answer that cannot be published is lost on purpose, because the terminal's retry with the
same msgid gets the recorded answer again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt

from switch.codes import Code
from switch.envelope import encode
from switch.errors import ConfigError
from switch.publish import MAX_INFLIGHT, publish_nowait
from switch.service import SettlementSwitch

__all__ = ["NODELAY", "BrokerAddress", "MqttSwitch", "parse_broker_url"]

log = logging.getLogger("gongji.mqtt")
# paho leaves Nagle on; with delayed ACKs every request/response round trip then costs ~40-90 ms.
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` (port 1883 when omitted)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp"):
        raise ConfigError(f"broker URL {url!r}: scheme must be mqtt://")
    if not parts.hostname:
        raise ConfigError(f"broker URL {url!r} has no host")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ConfigError(f"broker URL {url!r}: {exc}") from None
    return BrokerAddress(parts.hostname, port, unquote(parts.username) if parts.username else None,
                         unquote(parts.password) if parts.password else None)


class MqttSwitch:
    def __init__(self, switch: SettlementSwitch, broker: BrokerAddress, root: str = "gongji/v1",
                 client_id: str | None = None) -> None:
        self.switch = switch
        self.broker = broker
        self.root = root.rstrip("/")
        self.client_id = client_id or f"gongji-switch-{self.root.replace('/', '-')}"
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        switch.on_events = self._publish_events

    def _spawn(self, coro: object, name: str) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then finish and answer what is in flight, and disconnect."""
        backoff = 0.2
        sweeper = asyncio.create_task(self._sweep(stop), name="gongji-sweeper")
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                    backoff = 0.2
                except aiomqtt.MqttError as exc:
                    self.connected.clear()
                    log.warning("broker %s unreachable or lost (%s); retrying in %.1f s", self.broker.url, exc,
                                backoff)
                    try:
                        await asyncio.wait_for(stop.wait(), backoff)
                    except TimeoutError:
                        pass
                    backoff = min(backoff * 2, 5.0) * random.uniform(0.9, 1.1)
        finally:
            sweeper.cancel()

    async def _session(self, stop: asyncio.Event) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username, password=self.broker.password,
            identifier=self.client_id, clean_session=False, keepalive=30, socket_options=NODELAY,
            max_inflight_messages=MAX_INFLIGHT,
        ) as client:
            self._client = client
            await client.subscribe([(f"{self.root}/pos/+/req", 1), (f"{self.root}/app/+/req", 1),
                                    (f"{self.root}/admin/req", 1)])
            self.connected.set()
            log.info("subscribed on %s under %s/", self.broker.url, self.root)
            reader = asyncio.create_task(self._read(client), name="gongji-reader")
            stopper = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not reader.done():
                    reader.cancel()
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                raise reader.exception()  # type: ignore[misc]
            # Stopping: in-flight requests are committed and answered before we disconnect.
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=10)
            self.connected.clear()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._spawn(self._on_message(client, str(message.topic), bytes(message.payload)), "gongji-request")

    def _route(self, topic: str) -> tuple[str, str] | None:
        """(channel, sender) of a request topic under the root."""
        rest = topic[len(self.root) + 1:].split("/")
        if rest[:1] == ["admin"] and rest[1:] == ["req"]:
            return "admin", "admin"
        if len(rest) == 3 and rest[0] in ("pos", "app") and rest[2] == "req":
            return rest[0], rest[1]
        return None

    async def _on_message(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        route = self._route(topic)
        if route is None:
            log.warning("message on unexpected topic %s ignored", topic)
            return
        channel, sender = route
        resp_topic = f"{self.root}/admin/resp" if channel == "admin" else f"{self.root}/{channel}/{sender}/resp"
        if not _ID.match(sender):
            reply_payload = encode({"infno": None, "inf_refmsgid": None, "infcode": -1,
                                    "code": Code.INVALID_REQUEST.value,
                                    "err_msg": f"topic id {sender!r} must be 1-64 characters of A-Za-z0-9_-",
                                    "output": {"errors": [{"loc": ["topic"], "msg": "bad id"}]}})
            await self._publish(resp_topic, reply_payload)
            return
        try:
            reply = await self.switch.handle(channel, sender, payload)
        except Exception:  # the switch never crashes on input: answer, log, go on
            log.exception("internal error on %s", topic)
            await self._publish(resp_topic, encode({
                "infno": None, "inf_refmsgid": None, "infcode": -1, "code": Code.INTERNAL_ERROR.value,
                "err_msg": "internal error; nothing was committed for this request", "output": {}}))
            return
        await self._publish(resp_topic, reply.payload)
        self._publish_events(reply.events)

    async def _publish(self, topic: str, payload: bytes) -> None:
        self._send(topic, payload)

    def _send(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message on the client (see ``switch.publish``); never waits for the broker."""
        client = self._client
        if client is None:
            return
        try:
            publish_nowait(client, topic, payload)
        except aiomqtt.MqttError as exc:
            log.warning("could not publish on %s (%s); the sender's retry will get the recorded answer", topic, exc)

    def _publish_events(self, events: list[bytes]) -> None:
        for event in events:
            self._send(f"{self.root}/events", event)

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
            try:
                self._publish_events(await self.switch.sweep())
            except Exception:
                log.exception("window sweep failed")
