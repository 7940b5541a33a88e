"""The one clock the switch reads: the system clock, or a virtual one that tests and demos move."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol

__all__ = ["CST", "Clock", "SystemClock", "VirtualClock"]

CST = timezone(timedelta(hours=8), "CST")  # the platform's clock is China Standard Time


class Clock(Protocol):
    virtual: bool

    def now(self) -> datetime: ...


class SystemClock:
    virtual = False

    def now(self) -> datetime:
        return datetime.now(CST)


class VirtualClock:
    """Time that moves only when told (speed 0, the default) or at ``speed`` × real time.

    Strategy: frozen by default, so "+4m59.999s" after a window opened means exactly that; a
    running virtual clock would add the milliseconds each message takes and blur every edge.
    """

    virtual = True

    def __init__(self, start: datetime | None = None, speed: Decimal | float = 0) -> None:
        self._base = (start or datetime.now(CST)).astimezone(CST)
        self._speed = Decimal(str(speed))
        self._anchor = time.monotonic()

    @property
    def speed(self) -> Decimal:
        return self._speed

    def now(self) -> datetime:
        if not self._speed:
            return self._base
        elapsed = Decimal(str(time.monotonic() - self._anchor)) * self._speed
        return self._base + timedelta(microseconds=int(elapsed * 1_000_000))

    def _rebase(self, at: datetime) -> None:
        self._base = at.astimezone(CST)
        self._anchor = time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self._rebase(self.now() + delta)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=CST)
        self._rebase(at)

    def set_speed(self, speed: Decimal | float) -> None:
        self._rebase(self.now())
        self._speed = Decimal(str(speed))
