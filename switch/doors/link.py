"""The switch's links to an MQTT broker: its address, socket options, and staying connected.

Strategy: broker trouble is never a crash. Each connection of the switch (the MQTT door, the
journal's stray watcher) runs one session at a time in ``keep_connected``, which waits with a
growing, jittered backoff after each loss and starts over until it is told to stop. The backoff
starts again from the shortest only after a connection that stayed up ``STABLE_AFTER`` seconds: a
session that is dropped as soon as it connects (another client taking over its client id, a
broker refusing it) backs off instead of hammering the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt

from switch.errors import ConfigError

__all__ = ["NODELAY", "BrokerAddress", "keep_connected", "parse_broker_url", "read_until"]

# paho leaves Nagle on; with delayed ACKs every request/response round trip then costs ~40-90 ms.
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
FIRST_BACKOFF, LONGEST_BACKOFF = 0.2, 5.0
STABLE_AFTER = 10.0  # seconds connected after which the next loss waits the shortest backoff again


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


async def keep_connected(session: Callable[[Callable[[], None]], Awaitable[None]], stop: asyncio.Event,
                         lost: Callable[[aiomqtt.MqttError, float], None], *, first: float = FIRST_BACKOFF,
                         longest: float = LONGEST_BACKOFF, stable_after: float = STABLE_AFTER) -> None:
    """Run ``session(up)`` again after each broker error until ``stop`` is set.

    The session calls ``up()`` once it is connected; a loss after ``stable_after`` seconds of that
    waits ``first`` again, an earlier one waits twice the last wait (at most ``longest``, with
    jitter). ``lost(error, seconds)`` hears each loss before the wait.
    """
    backoff = first
    connected_at: float | None = None

    def up() -> None:
        nonlocal connected_at
        connected_at = time.monotonic()

    while not stop.is_set():
        try:
            await session(up)
        except aiomqtt.MqttError as exc:
            if connected_at is not None and time.monotonic() - connected_at >= stable_after:
                backoff = first
            connected_at = None
            lost(exc, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, longest) * random.uniform(0.9, 1.1)


async def read_until(stop: asyncio.Event, reading: Awaitable[None]) -> None:
    """Run ``reading`` until ``stop`` is set; a broker error it meets is raised here."""
    reader = asyncio.ensure_future(reading)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not reader.done():
            reader.cancel()
    if reader.done() and not reader.cancelled() and reader.exception() is not None:
        raise reader.exception()  # type: ignore[misc]
