"""The MQTT door: requests from the broker to the service, answers and events back to the broker.

It only moves bytes: read the topic, hand the payload on as its own task, publish what comes
back on the sender's resp topic, and each event on the operators' events topic and on the own
events topic of every terminal and member app it concerns. An answer that cannot be
published is lost on purpose, because the terminal's retry with the same msgid gets the
recorded answer again. Timing, the journal and every answer's content are the service's.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiomqtt

from switch.doors.link import NODELAY, BrokerAddress, TroubleLog, keep_connected, parse_broker_url, read_until
from switch.doors.liveness import Hearing, first_failure
from switch.doors.publish import (
    MAX_INFLIGHT,
    acknowledged,
    gather_sends,
    hold_requests,
    publish_at_most_once,
    publish_nowait,
)
from switch.journal.watch import StrayWatcher
from switch.service.delivery import Serve
from switch.wire.events import Announced, recipients
from switch.wire.topics import (
    DEFAULT_ROOT,
    events_topic,
    parse_request_topic,
    probe_topic,
    request_filters,
    response_topic,
)

__all__ = ["EVENT_QOS", "NODELAY", "BrokerAddress", "MqttDoor", "parse_broker_url"]

log = logging.getLogger("gongji.mqtt")
EVENT_QOS = 0  # requests and answers are QoS 1; events, at most once by design, need no acknowledgement
STOP_SECONDS = 10.0  # stopping: how long in-flight requests may take to be answered and acknowledged


class MqttDoor:
    """One persistent MQTT session under ``root``; ``connected`` is set while it is subscribed."""

    name = "mqtt"

    def __init__(self, serve: Serve, broker: BrokerAddress, root: str = DEFAULT_ROOT,
                 client_id: str | None = None, watcher: StrayWatcher | None = None) -> None:
        self.serve = serve
        self.broker = broker
        self.root = root.rstrip("/")
        self.client_id = client_id or f"gongji-switch-{self.root.replace('/', '-')}"
        self.watcher = watcher  # the journal's, run by the composition root; kept here to be seen
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._events = events_topic(self.root)
        self._probes = probe_topic(self.root)
        self._trouble = TroubleLog(log, broker, self.client_id)

    def describe(self) -> str:
        return f"topics {self.root}/"

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then finish and answer what is in flight, and disconnect."""
        await keep_connected(lambda up: self._session(stop, up), stop, self._lost)

    def _lost(self, exc: aiomqtt.MqttError, retry_in: float, up_for: float | None) -> None:
        self.connected.clear()
        # Once per change of cause: nothing listening, a refused login, a closed session. MQTT 3.1.1 says
        # nothing when another client takes the session over (the broker just closes it): a session closed
        # again right after it was made is named as that (switch/doors/link.py).
        self._trouble(exc, retry_in, up_for)

    async def _session(self, stop: asyncio.Event, up: Callable[[], None]) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username, password=self.broker.password,
            identifier=self.client_id, clean_session=False, keepalive=30, socket_options=NODELAY,
            max_inflight_messages=MAX_INFLIGHT,
        ) as client:
            self._client = client
            hearing = Hearing(self._probes)
            # From here on the session's messages come to _heard, read in bulk (switch/doors/publish.py); a
            # persistent session's queued requests can arrive before the subscription is renewed.
            gather_sends(client, functools.partial(self._heard, hearing))
            await client.subscribe([(topic, 1) for topic in [*request_filters(self.root), self._probes]])
            up()
            self.connected.set()
            self._trouble.up()
            log.info("subscribed on %s under %s/ as client id %r", self.broker.url, self.root, self.client_id)
            probe = functools.partial(publish_nowait, client)
            await read_until(stop, first_failure(self._read(client, hearing), hearing.watch(probe)))
            # Stopping: no request is taken from now on (the broker keeps them for the next session); those
            # taken are committed and answered, and the broker has acknowledged every answer, before we
            # disconnect (an answer only queued when the DISCONNECT went out was lost with the session).
            hold_requests(client)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STOP_SECONDS
            while self._tasks and (left := deadline - loop.time()) > 0:
                await asyncio.wait(set(self._tasks), timeout=left)
            if not await acknowledged(client, max(deadline - loop.time(), 1.0)):
                log.warning("stopping before the broker acknowledged every answer; the senders' retries will get "
                            "the recorded answers")
            self.connected.clear()

    def _heard(self, hearing: Hearing, topic: str, payload: bytes) -> None:
        hearing.heard()
        if topic != self._probes:
            self._spawn(self._on_message(topic, payload))

    async def _read(self, client: aiomqtt.Client, hearing: Hearing) -> None:
        # Only what paho read before gather_sends comes this way; the iterator also ends with the session.
        # aiomqtt's iterator makes a task and an asyncio.wait per message; what arrived together with
        # the one it returns is taken off its queue (aiomqtt 2.x's ``_queue``) right away instead.
        queue = client._queue
        async for message in client.messages:
            hearing.heard()
            self._take(message)
            while not queue.empty():
                self._take(queue.get_nowait())

    def _take(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        if topic != self._probes:
            self._spawn(self._on_message(topic, bytes(message.payload)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="gongji-request")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_message(self, topic: str, payload: bytes) -> None:
        route = parse_request_topic(self.root, topic)
        if route is None:
            log.warning("message on unexpected topic %s ignored", topic)
            return
        channel, sender = route
        resp = response_topic(self.root, channel, sender)
        await self.serve(topic, channel, sender, payload, lambda answer: self._send(resp, answer))

    def _send(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Queue one message on the client (see ``switch.doors.publish``); never waits for the broker."""
        client = self._client
        if client is None:
            return False
        try:
            publish_nowait(client, topic, payload, qos)
        except aiomqtt.MqttError as exc:
            log.warning("could not publish on %s (%s); the sender's retry will get the recorded answer", topic, exc)
            return False
        return True

    def publish_events(self, events: list[bytes]) -> None:
        """Subscribed to the service: every event, whichever door caused it, on ``{root}/events`` (operators),
        and on ``{root}/events/pos/{terminal_id}`` and ``{root}/events/app/{psn_no}`` of each it concerns.

        At QoS 0: events are at most once anyway (published after the answer, lost in a crash), and the
        broker's PUBACK for each of them cost the switch more than the event itself.
        """
        client = self._client
        if client is None or not events:
            return
        messages: list[tuple[str, bytes]] = []
        for event in events:
            messages.append((self._events, event))
            if isinstance(event, Announced):
                terminals, people = event.terminals, event.people
            else:
                terminals, people = recipients(json.loads(event)["data"])
            messages += [(events_topic(self.root, "pos", terminal), event) for terminal in terminals]
            messages += [(events_topic(self.root, "app", psn_no), event) for psn_no in people]
        try:
            publish_at_most_once(client, messages)
        except aiomqtt.MqttError as exc:
            log.warning("could not publish %d events (%s); events are at most once", len(events), exc)

