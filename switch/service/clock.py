"""The one clock the switch reads: the system clock, or a virtual one that tests and demos move."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol

__all__ = ["CLOCK_MAX", "CLOCK_MIN", "CST", "Clock", "ClockRangeError", "SystemClock", "VirtualClock"]

CST = timezone(timedelta(hours=8), "CST")  # the platform's clock is China Standard Time

# A virtual clock stays within years 2000–2199. Far enough for any scenario; well inside what
# datetime can add to (year 9999), so no request can make every later ``now()`` overflow.
CLOCK_MIN = datetime(2000, 1, 1, tzinfo=CST)
CLOCK_MAX = datetime(2200, 1, 1, tzinfo=CST)
# A speed is refused when the clock would reach CLOCK_MAX within this much real time: a running
# clock that still gets there stops at CLOCK_MAX.
SPEED_HORIZON_SECONDS = 3600


class ClockRangeError(ValueError):
    """A clock change that would leave the clock's range; ``field`` is the input that asked for it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Clock(Protocol):
    virtual: bool

    def now(self) -> datetime: ...


def _to_millisecond(at: datetime) -> datetime:
    """``at`` without its microseconds below the millisecond: every time on the wire is shown to the
    millisecond, so the switch decides at instants its answers can show (a window opened at 10:00:00.0005
    would end at 10:05:00.0005, after the 10:05:00.000 its answer gives)."""
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000)


class SystemClock:
    virtual = False

    def now(self) -> datetime:
        return _to_millisecond(datetime.now(CST))


def _in_range(field: str, at: datetime) -> datetime:
    if not CLOCK_MIN <= at <= CLOCK_MAX:
        raise ClockRangeError(field, f"{at.isoformat()} is outside the virtual clock's range "
                                     f"[{CLOCK_MIN.isoformat()}, {CLOCK_MAX.isoformat()}]")
    return at.astimezone(CST)


class VirtualClock:
    """Time that moves only when told (speed 0, the default) or at ``speed`` × real time.

    Strategy: frozen by default, so "+4m59.999s" after a window opened means exactly that; a
    running virtual clock would add the milliseconds each message takes and blur every edge.
    """

    virtual = True

    def __init__(self, start: datetime | None = None, speed: Decimal | float = 0) -> None:
        start = start or datetime.now(CST)
        if start.tzinfo is None:
            start = start.replace(tzinfo=CST)
        self._base = _in_range("clock_start", start)
        self._speed = Decimal(str(speed))
        self._anchor = time.monotonic()

    @property
    def speed(self) -> Decimal:
        return self._speed

    def now(self) -> datetime:
        """Read in whole milliseconds; it moves by what it is told, finer steps included (two 0.5 ms advances
        make a millisecond)."""
        return _to_millisecond(self._exact())

    def _exact(self) -> datetime:
        if not self._speed:
            return self._base
        elapsed = Decimal(str(time.monotonic() - self._anchor)) * self._speed * 1_000_000
        room = (CLOCK_MAX - self._base) // timedelta(microseconds=1)
        if elapsed >= room:  # a running clock stops at its bound rather than overflow
            return CLOCK_MAX
        return self._base + timedelta(microseconds=int(elapsed))

    def change(self, set: datetime | None = None, advance: timedelta | None = None,
               speed: Decimal | None = None) -> None:
        """Apply ``set`` or ``advance``, then ``speed``; all of it, or none of it and ClockRangeError."""
        target, field = self._exact(), "speed"
        if set is not None:
            target, field = _in_range("set", set if set.tzinfo is not None else set.replace(tzinfo=CST)), "set"
        if advance is not None:
            if advance > CLOCK_MAX - target:
                raise ClockRangeError("advance", f"advancing {advance} from {target.isoformat()} passes "
                                                 f"the virtual clock's end {CLOCK_MAX.isoformat()}")
            target, field = target + advance, "advance"
        rate = self._speed if speed is None else speed
        if speed is not None:
            field = "speed"
        if rate and (CLOCK_MAX - target).total_seconds() < float(rate) * SPEED_HORIZON_SECONDS:
            raise ClockRangeError(field, f"at speed {rate} the clock would pass {CLOCK_MAX.isoformat()} "
                                         f"within an hour from {target.isoformat()}; set it earlier first")
        self._base = target
        self._anchor = time.monotonic()
        self._speed = rate

    def advance(self, delta: timedelta) -> None:
        self.change(advance=delta)

    def set(self, at: datetime) -> None:
        self.change(set=at)

    def set_speed(self, speed: Decimal | float) -> None:
        self.change(speed=Decimal(str(speed)))
