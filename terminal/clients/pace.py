"""How a terminal lets switch time pass, and its estimate of the switch clock between answers.

Timing rules run on the *switch's* clock, which may be virtual: frozen (moved by ``admin.clock``)
or running at ``speed`` × real time. A cashier who "swipes again after 90 s" therefore waits 90 s of
switch time: ``RealPace`` sleeps 90/speed real seconds; ``JumpPace`` moves a frozen clock at once,
so CI runs the same story deterministically and without waiting.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from terminal.clients.admin import AdminCalls

__all__ = ["JumpPace", "Pace", "RealPace", "SwitchTime", "parse_switch_time"]


def parse_switch_time(text: str) -> datetime:
    """A time from the switch: ISO 8601 (v1's ``respond_time``, ``window_expires_at``) or the national
    door's ``yyyyMMddHHmmssSSS`` (China time)."""
    if len(text) == 17 and text.isdigit():
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(
            microsecond=int(text[14:]) * 1000, tzinfo=timezone(timedelta(hours=8)))
    return datetime.fromisoformat(text)


class Pace(Protocol):
    speed: float  # switch seconds per real second; 0 when the clock only moves by jumps

    async def wait(self, delta: timedelta) -> datetime | None:
        """Let ``delta`` of switch time pass; returns the switch's new now when it knows it."""
        ...


class RealPace:
    """Wait in real time for a switch clock running at ``speed`` (1 for the system clock)."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("a frozen switch clock never moves by itself: use JumpPace for speed 0")
        self.speed = float(speed)

    async def wait(self, delta: timedelta) -> datetime | None:
        await asyncio.sleep(delta.total_seconds() / self.speed)
        return None


class JumpPace:
    """Move a frozen virtual switch clock with ``admin.clock {advance}``: no real waiting at all."""

    speed = 0.0

    def __init__(self, admin: AdminCalls) -> None:
        self.admin = admin
        # Several terminals may wait at once; each jump is a separate, ordered step of the clock.
        self._lock = asyncio.Lock()

    async def wait(self, delta: timedelta) -> datetime | None:
        async with self._lock:
            output = await self.admin.clock(advance=delta)
        return parse_switch_time(output["now"])


class SwitchTime:
    """The switch clock as the terminal sees it: the last ``respond_time``, run forward at ``speed``."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._anchor: datetime | None = None
        self._mono = 0.0

    def observe(self, at: datetime | str | None) -> None:
        if at is None:
            return
        self._anchor = parse_switch_time(at) if isinstance(at, str) else at
        self._mono = time.monotonic()

    def now(self) -> datetime | None:
        if self._anchor is None:
            return None
        return self._anchor + timedelta(seconds=(time.monotonic() - self._mono) * self.speed)

    def until(self, at: datetime) -> timedelta | None:
        """How much switch time is left before ``at`` (never negative), if the switch clock is known."""
        now = self.now()
        return None if now is None else max(at - now, timedelta(0))
