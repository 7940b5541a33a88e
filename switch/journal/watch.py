"""The stray watcher: a second subscription to ``{root}/#`` that journals messages nobody will answer.

Strategy: a separate clean-session connection at QoS 0, so the switch's own persistent session
and its request subscriptions stay exactly as they were, nothing is acknowledged, and nothing
queues for it while the switch is down. It sees everything under the root, the switch's own
answers and events included; ``stray_hint`` keeps only what no handler will answer (a typo in
a topic, a request published on a ``resp`` topic) and costs a prefix test for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import aiomqtt

from switch.core.model import iso
from switch.journal.hints import Heard, Journal, stray_hint
from switch.service.clock import Clock

__all__ = ["StrayWatcher"]

log = logging.getLogger("gongji.watch")


class StrayWatcher:
    def __init__(self, host: str, port: int, username: str | None, password: str | None, root: str,
                 journal: Journal, clock: Clock, client_id: str,
                 socket_options: tuple[tuple[int, int, int], ...]) -> None:
        self._connect = dict(hostname=host, port=port, username=username, password=password,
                             identifier=client_id, clean_session=True, keepalive=30,
                             socket_options=socket_options)
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
        backoff = 0.2
        while not stop.is_set():
            try:
                async with aiomqtt.Client(**self._connect) as client:  # type: ignore[arg-type]
                    await client.subscribe(f"{self.root}/#", qos=0)
                    self.ready.set()
                    backoff = 0.2
                    reader = asyncio.create_task(self._read(client))
                    stopper = asyncio.create_task(stop.wait())
                    try:
                        await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        stopper.cancel()
                        reader.cancel()
                    if reader.done() and not reader.cancelled() and reader.exception() is not None:
                        raise reader.exception()  # type: ignore[misc]
            except aiomqtt.MqttError as exc:
                self.ready.clear()
                log.info("stray watcher lost the broker (%s); retrying in %.1f s", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0) * random.uniform(0.9, 1.1)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.heard(str(message.topic), bytes(message.payload))
