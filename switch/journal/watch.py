"""The stray watcher: a second subscription to ``{root}/#`` that journals messages nobody will answer.

Strategy: a separate clean-session connection at QoS 0, so the switch's own persistent session
and its request subscriptions stay exactly as they were, nothing is acknowledged, and nothing
queues for it while the switch is down. It sees everything under the root, the switch's own
requests, answers and events included, so it reads through ``switch.doors.tap`` (bulk reads, no
object per message) and drops the switch's own traffic by one pattern match before anything else;
``stray_hint`` keeps only what no handler will answer (a typo in a topic, a request published on a
``resp`` topic).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import aiomqtt

from switch.core.model import iso
from switch.doors.link import BrokerAddress, TroubleLog, keep_connected, read_until
from switch.doors.liveness import Hearing, first_failure
from switch.doors.tap import Tap
from switch.journal.hints import Heard, Journal, stray_hint
from switch.service.clock import Clock
from switch.wire.topics import probe_topic

__all__ = ["StrayWatcher"]

log = logging.getLogger("gongji.watch")
_ID = "[A-Za-z0-9_-]{1,64}"


def _own_traffic(root: str) -> re.Pattern[str]:
    """Requests (journaled by their handler) and events: topics ``stray_hint`` never finds fault with."""
    return re.compile(rf"{re.escape(root)}/(?:(?:pos|app)/{_ID}/req|admin/req|events(?:/(?:pos|app)/{_ID})?)")


def _answer_topic(root: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(root)}/(?:(?:pos|app)/{_ID}/resp|admin/resp)")


class StrayWatcher:
    """``ready`` is set while it is subscribed: from then on, misdirected messages are journaled."""

    def __init__(self, broker: BrokerAddress, root: str, journal: Journal, clock: Clock, client_id: str) -> None:
        self.broker = broker
        self.client_id = client_id
        self.root = root
        self.journal = journal
        self.clock = clock
        self.ready = asyncio.Event()
        self._own = _own_traffic(root).fullmatch
        self._answers = _answer_topic(root).fullmatch
        # Nothing listening or a refused login is the MQTT door's to say (the same broker, the same login).
        self._trouble = TroubleLog(log, broker, client_id, level=logging.INFO, prefix="stray watcher: ",
                                   quiet_broker_wide=True)

    def heard(self, topic: str, payload: bytes) -> None:
        if self._own(topic) is not None:
            return
        # The switch's answers carry inf_refmsgid; only a request on a resp topic is a mistake.
        if self._answers(topic) is not None and b'"inf_refmsgid"' in payload:
            return
        found = stray_hint(self.root, topic, payload)
        if found is not None:
            hint, channel, sender = found
            log.warning("%s: %s", topic, hint)
            self.journal.record(Heard(time.time(), iso(self.clock.now()), topic, channel, sender, payload,
                                      hint=hint))

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set, reconnecting with backoff; never raises on broker trouble."""
        await keep_connected(lambda up: self._session(stop, up), stop, self._lost)

    def _lost(self, exc: aiomqtt.MqttError, retry_in: float, up_for: float | None) -> None:
        self.ready.clear()
        self._trouble(exc, retry_in, up_for)

    async def _session(self, stop: asyncio.Event, up: Callable[[], None]) -> None:
        async with Tap(self.broker, self.client_id) as tap:
            hearing = Hearing(probe_topic(self.root))  # it hears its own probes, and the door's
            await tap.subscribe([f"{self.root}/#", hearing.topic])
            self.ready.set()
            up()

            def on_message(topic: str, payload: bytes) -> None:
                hearing.heard()
                if topic != hearing.topic:
                    self.heard(topic, payload)

            await read_until(stop, first_failure(tap.listen(on_message), hearing.watch(tap.publish)))
