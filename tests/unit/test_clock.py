"""The virtual clock's bounds: years 2000–2199, all-or-nothing changes, a running clock stops at its end."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from switch.service.clock import CLOCK_MAX, CST, ClockRangeError, VirtualClock

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=CST)


@pytest.mark.parametrize(("change", "field"), [
    ({"set": datetime(9999, 12, 31, 23, 59, tzinfo=CST)}, "set"),
    ({"set": datetime(1999, 12, 31, 23, 59, tzinfo=CST)}, "set"),
    ({"advance": timedelta(days=200 * 366)}, "advance"),
    ({"set": datetime(2199, 12, 31, 23, 59, tzinfo=CST), "speed": Decimal(10_000)}, "speed"),
    ({"speed": Decimal(10_000), "set": datetime(2199, 12, 1, tzinfo=CST)}, "speed"),
])
def test_out_of_range_changes_are_refused_and_change_nothing(change: dict[str, object], field: str) -> None:
    """A set, advance or speed that would leave 2000–2199 raises naming that input; the clock stays put."""
    clock = VirtualClock(T0)
    with pytest.raises(ClockRangeError) as refused:
        clock.change(**change)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert (clock.now(), clock.speed) == (T0, Decimal(0))


def test_a_running_clock_stops_at_its_end() -> None:
    """A clock started a millisecond before its end at speed 10,000 reads exactly CLOCK_MAX, never past it."""
    clock = VirtualClock(CLOCK_MAX - timedelta(milliseconds=1), Decimal(10_000))
    time.sleep(0.01)
    assert clock.now() == CLOCK_MAX
    clock.change(set=datetime(2100, 1, 1, tzinfo=CST), speed=Decimal(0))
    assert clock.now() == datetime(2100, 1, 1, tzinfo=CST)


def test_the_ends_themselves_are_allowed() -> None:
    """2000-01-01T00:00+08:00 and 2200-01-01T00:00+08:00 are inside the range; a naive time is read as +08:00."""
    clock = VirtualClock(T0)
    clock.set(datetime(2000, 1, 1))
    assert clock.now() == datetime(2000, 1, 1, tzinfo=CST)
    clock.advance(CLOCK_MAX - clock.now())
    assert clock.now() == CLOCK_MAX
    with pytest.raises(ClockRangeError):
        clock.advance(timedelta(microseconds=1))


def test_it_is_read_in_milliseconds_and_moved_by_finer_steps() -> None:
    """Read to the millisecond the answers show; two advances of 0.5 ms make one."""
    clock = VirtualClock(datetime(2026, 11, 25, 10, 0, tzinfo=CST))
    clock.advance(timedelta(microseconds=500))
    assert clock.now() == datetime(2026, 11, 25, 10, 0, tzinfo=CST)
    clock.advance(timedelta(microseconds=500))
    assert clock.now() == datetime(2026, 11, 25, 10, 0, 0, 1000, tzinfo=CST)
