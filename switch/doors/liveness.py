"""Hearing what the broker sends: a session that hears nothing, not even its own probe, is deaf.

Strategy: a broker may leave a connection open while another client with the same client id has
taken its session (amqtt 0.12 does this when the newcomer asks for a clean session: the old
connection stays up with no subscriptions, and nothing tells it). The connection then looks
healthy and hears nothing for ever. So a door that has heard nothing for ``PROBE_IDLE`` seconds
publishes a probe on a topic it subscribes to; if nothing at all arrives within
``PROBE_DEADLINE``, the session is deaf and is ended like a lost connection, so it reconnects and
subscribes again. Under traffic nothing is probed: hearing requests is proof enough.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

import aiomqtt

__all__ = ["PROBE_DEADLINE", "PROBE_IDLE", "Deaf", "Hearing", "first_failure"]

PROBE_IDLE, PROBE_DEADLINE = 5.0, 5.0


class Deaf(aiomqtt.MqttError):
    """Connected, but nothing arrives, not even our own probe: the session was taken over or dropped."""


class Hearing:
    """When a session last heard anything; ``watch`` raises ``Deaf`` once it hears nothing at all."""

    def __init__(self, topic: str, idle: float = PROBE_IDLE, deadline: float = PROBE_DEADLINE) -> None:
        self.topic = topic
        self.idle = idle
        self.deadline = deadline
        self.last = time.monotonic()
        self.probe = b'{"probe":"%s"}' % secrets.token_hex(8).encode()

    def heard(self) -> None:
        self.last = time.monotonic()

    async def watch(self, publish: Callable[[str, bytes], None]) -> None:
        """Probe whenever the session has been quiet for ``idle`` seconds; raise ``Deaf`` when a probe is not heard.

        ``publish(topic, payload)`` sends a probe on the session being watched.
        """
        self.heard()
        while True:
            quiet = time.monotonic() - self.last
            if quiet < self.idle:
                await asyncio.sleep(self.idle - quiet)
                continue
            sent = time.monotonic()
            publish(self.topic, self.probe)
            await asyncio.sleep(self.deadline)
            if self.last < sent:
                raise Deaf(f"heard nothing for {time.monotonic() - sent:.0f} s, not even a probe on {self.topic}: "
                           "another client has probably taken this client id's session")


async def first_failure(*steps: Awaitable[None]) -> None:
    """Run ``steps`` together until the first one fails (raised here) or all end; the others are cancelled."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


