"""Reconnecting: the backoff grows while connections keep dropping at once, and starts over after a stable one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiomqtt

from switch.doors.link import keep_connected


async def test_backoff_grows_while_flapping_and_resets_after_a_stable_connection() -> None:
    """Dropped right after connecting: 10, 20, 40, 80, 80 ms; after 0.2 s connected, 10 ms again."""
    stop = asyncio.Event()
    waits: list[float] = []
    lives = [0.0] * 5 + [0.2, 0.0]  # seconds each session stays connected before the broker drops it

    async def session(up: Callable[[], None]) -> None:
        up()
        await asyncio.sleep(lives.pop(0))
        if not lives:
            stop.set()
        raise aiomqtt.MqttError("dropped")

    await keep_connected(session, stop, lambda exc, wait, up_for: waits.append(wait), first=0.01, longest=0.08,
                         stable_after=0.1)
    expected = [0.01, 0.02, 0.04, 0.08, 0.08, 0.01, 0.02]
    assert len(waits) == len(expected)
    for wait, nominal in zip(waits, expected, strict=True):
        # each doubling is jittered by ±10 %, and the jitter compounds until the cap
        assert nominal * 0.7 <= wait <= nominal * 1.3, (waits, expected)
