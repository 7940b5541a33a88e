"""The MQTT adapter: requests from the broker to the service, replies and events back.

It only moves bytes: parse the topic, hand the payload on as its own task, publish what comes
back on the sender's resp topic. Broker trouble becomes a reconnect with backoff, never a crash;
an answer that cannot be published is lost on purpose, because the terminal's retry with the
same msgid gets the recorded answer again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import re
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from switch.core.codes import Code
from switch.core.model import iso
from switch.doors.publish import MAX_INFLIGHT, publish_nowait
from switch.errors import ConfigError
from switch.journal.hints import Heard, JournalWriter
from switch.journal.watch import StrayWatcher
from switch.service.handling import SettlementSwitch
from switch.wire.envelope import encode

__all__ = ["NODELAY", "BrokerAddress", "MqttSwitch", "parse_broker_url"]

log = logging.getLogger("gongji.mqtt")
# paho leaves Nagle on; with delayed ACKs every request/response round trip then costs ~40-90 ms.
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
JOURNAL_FLUSH_SECONDS = 1.0
# The answers one request's task published, for its journal row (each task has its own context).
_ANSWERS: contextvars.ContextVar[list[bytes] | None] = contextvars.ContextVar("gongji_answers", default=None)


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
        # --- traffic journal: on when the store keeps one (gongji-switch serve --journal-max) ---
        store = switch.store
        self.journal_store = store if isinstance(store, JournalWriter) and store.journal is not None else None
        self.watcher: StrayWatcher | None = None
        self.connected_once = False
        if self.journal_store is not None and self.journal_store.journal is not None:
            self.watcher = StrayWatcher(broker.host, broker.port, broker.username, broker.password, self.root,
                                        self.journal_store.journal, switch.clock, f"{self.client_id}-watch",
                                        NODELAY)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then finish and answer what is in flight, and disconnect."""
        backoff = 0.2
        sweeper = asyncio.create_task(self._sweep(stop), name="gongji-sweeper")
        journaling = self._start_journal(stop)
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
            for task in journaling:
                task.cancel()

    async def _session(self, stop: asyncio.Event) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username, password=self.broker.password,
            identifier=self.client_id, clean_session=False, keepalive=30, socket_options=NODELAY,
            max_inflight_messages=MAX_INFLIGHT,
        ) as client:
            self._client = client
            await client.subscribe([(f"{self.root}/pos/+/req", 1), (f"{self.root}/app/+/req", 1),
                                    (f"{self.root}/admin/req", 1)])
            await self._watching()
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
            topic, payload = str(message.topic), bytes(message.payload)
            handling = self._journaled(client, topic, payload) if self.journal_store else self._on_message(
                client, topic, payload)
            self._spawn(handling, "gongji-request")

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
        # Normally one send at once; injected faults (admin.faults) may ask for none, a late or a second one.
        # The events tell what was committed, so they are never held back with a late or dropped answer.
        events, waited = reply.events, 0.0
        for at in reply.sends:
            if at > waited:
                self._publish_events(events)
                events = []
                await asyncio.sleep(at - waited)
                waited = at
            await self._publish(resp_topic, reply.payload)
        self._publish_events(events)

    async def _publish(self, topic: str, payload: bytes) -> None:
        self._send(topic, payload)

    def _send(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message on the client (see ``switch.doors.publish``); never waits for the broker."""
        client = self._client
        if client is None:
            return
        try:
            publish_nowait(client, topic, payload)
        except aiomqtt.MqttError as exc:
            log.warning("could not publish on %s (%s); the sender's retry will get the recorded answer", topic, exc)
            return
        answers = _ANSWERS.get()
        if answers is not None and topic.endswith("/resp"):
            answers.append(payload)

    def _publish_events(self, events: list[bytes]) -> None:
        for event in events:
            self._send(f"{self.root}/events", event)

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.switch.seconds_to_next_expiry())
            except TimeoutError:
                pass
            try:
                self._publish_events(await self.switch.sweep())
            except Exception:
                log.exception("window sweep failed")

    # --- traffic journal -----------------------------------------------------------------------

    async def _journaled(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        """``_on_message``, with the message and every answer it published recorded in the journal."""
        assert self.journal_store is not None and self.journal_store.journal is not None
        received, started, switch_time = time.time(), time.perf_counter(), iso(self.switch.clock.now())
        answers: list[bytes] = []
        _ANSWERS.set(answers)
        try:
            await self._on_message(client, topic, payload)
        finally:
            channel, sender = self._route(topic) or (None, None)
            self.journal_store.journal.record(Heard(received, switch_time, topic, channel, sender, payload,
                                                    tuple(answers), (time.perf_counter() - started) * 1000))

    def _start_journal(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        if self.journal_store is None:
            return []
        tasks = [asyncio.create_task(self._flush_journal(stop), name="gongji-journal")]
        if self.watcher is not None:
            tasks.append(asyncio.create_task(self.watcher.run(stop), name="gongji-watch"))
        return tasks

    async def _watching(self) -> None:
        """At the first connection, wait briefly for the stray watcher: "ready" means typos get journaled."""
        if self.watcher is not None and not self.connected_once:
            self.connected_once = True
            try:
                await asyncio.wait_for(self.watcher.ready.wait(), 5)
            except TimeoutError:
                log.warning("stray watcher not subscribed yet; misdirected messages are journaled once it is")

    async def _flush_journal(self, stop: asyncio.Event) -> None:
        assert self.journal_store is not None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), JOURNAL_FLUSH_SECONDS)
            try:
                await self.journal_store.write_journal()
            except Exception:
                log.exception("traffic journal write failed")
