"""The stray watcher: a second subscription to ``{root}/#`` that journals messages nobody will answer.

Strategy: a separate clean-session connection at QoS 0, so the switch's own persistent session
and its request subscriptions stay exactly as they were, nothing is acknowledged, and nothing
queues for it while the switch is down. It sees everything under the root, the switch's own
answers and events included; ``stray_hint`` keeps only what no handler will answer (a typo in
a topic, a request published on a ``resp`` topic) and costs a prefix test for the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiomqtt

from switch.core.model import iso
from switch.doors.link import NODELAY, BrokerAddress, keep_connected, read_until
from switch.doors.liveness import Hearing, first_failure
from switch.journal.hints import Heard, Journal, stray_hint
from switch.service.clock import Clock
from switch.wire.topics import probe_topic

__all__ = ["StrayWatcher"]

log = logging.getLogger("gongji.watch")


class StrayWatcher:
    """``ready`` is set while it is subscribed: from then on, misdirected messages are journaled."""

    def __init__(self, broker: BrokerAddress, root: str, journal: Journal, clock: Clock, client_id: str) -> None:
        self._connect = dict(hostname=broker.host, port=broker.port, username=broker.username,
                             password=broker.password, identifier=client_id, clean_session=True, keepalive=30,
                             socket_options=NODELAY)
        self.root = root
        self.journal = journal
        self.clock = clock
        self.ready = asyncio.Event()

    def heard(self, topic: str, payload: bytes) -> None:
        found = stray_hint(self.root, topic, payload)
        if found is not None:
            hint, channel, sender = found
            log.warning("%s: %s", topic, hint)
            self.journal.record(Heard(time.time(), iso(self.clock.now()), topic, channel, sender, payload,
                                      hint=hint))

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set, reconnecting with backoff; never raises on broker trouble."""
        await keep_connected(lambda up: self._session(stop, up), stop, self._lost)

    def _lost(self, exc: aiomqtt.MqttError, retry_in: float) -> None:
        self.ready.clear()
        log.info("stray watcher lost the broker (%s); retrying in %.1f s", exc, retry_in)

    async def _session(self, stop: asyncio.Event, up: Callable[[], None]) -> None:
        async with aiomqtt.Client(**self._connect) as client:  # type: ignore[arg-type]
            hearing = Hearing(probe_topic(self.root))  # it hears its own probes, and the door's
            await client.subscribe([(f"{self.root}/#", 0), (hearing.topic, 0)])
            self.ready.set()
            up()
            await read_until(stop, first_failure(self._read(client, hearing), hearing.watch(client)))

    async def _read(self, client: aiomqtt.Client, hearing: Hearing) -> None:
        async for message in client.messages:
            hearing.heard()
            topic = str(message.topic)
            if topic != hearing.topic:
                self.heard(topic, bytes(message.payload))
