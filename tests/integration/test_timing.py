"""Window edges on the system-clock path (freezegun) and on the virtual clock: 299.999 s pools, 300 s does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from switch.service.clock import SystemClock, VirtualClock
from tests.integration.service_helpers import Driver, make_switch
from tests.support.families import DONGYING, pharmacy_input
from tests.unit.core_helpers import T0

EDGES = [(timedelta(seconds=299.999), "OK"), (timedelta(seconds=300), "POOLING_AVAILABLE")]
SHORT_WINDOW = {"name": "dongying", "admdvs": ["370500"], "flow": "retry_window", "window_seconds": 45,
                "max_relatives": 7, "relations": ["spouse", "parent", "child", "spouse_parent"]}
SHORT_EDGES = [(timedelta(seconds=44.999), "OK"), (timedelta(seconds=45), "POOLING_AVAILABLE")]


async def _story(driver: Driver, move: object, after: timedelta, expected: str) -> None:
    first = await driver.pos("2102", pharmacy_input("DR", "80.00"))
    assert first["code"] == "POOLING_AVAILABLE"
    move(after)  # type: ignore[operator]
    second = await driver.pos("2102", pharmacy_input("DR", "80.00"))
    assert second["code"] == expected
    balance = (await driver.balances())["DH"]
    assert balance == ("420.00" if expected == "OK" else "500.00")


@pytest.mark.parametrize(("policy", "after", "expected"), [
    *((None, a, e) for a, e in EDGES), *((SHORT_WINDOW, a, e) for a, e in SHORT_EDGES)])
async def test_edges_on_system_clock_with_freezegun(tmp_path: Path, policy: dict[str, Any] | None, after: timedelta,
                                                    expected: str) -> None:
    """System clock, frozen by freezegun (real_asyncio): the window is half-open at its exact end."""
    with freeze_time(T0, real_asyncio=True) as frozen:
        switch = make_switch(tmp_path / "f.db", SystemClock())
        await switch.start()
        try:
            driver = Driver(switch)
            if policy is not None:
                assert (await driver.admin("admin.policy", {"set": policy}))["code"] == "OK"
            await driver.admin("admin.load", DONGYING)
            await _story(driver, frozen.tick, after, expected)
        finally:
            await switch.stop()


@pytest.mark.parametrize(("policy", "after", "expected"), [
    *((None, a, e) for a, e in EDGES), *((SHORT_WINDOW, a, e) for a, e in SHORT_EDGES)])
async def test_edges_on_virtual_clock(tmp_path: Path, policy: dict[str, Any] | None, after: timedelta,
                                      expected: str) -> None:
    """Virtual clock moved by admin.clock: the same edges, with the advance given as a duration string."""
    switch = make_switch(tmp_path / "v.db", VirtualClock(T0))
    await switch.start()
    try:
        driver = Driver(switch)
        if policy is not None:
            await driver.admin("admin.policy", {"set": policy})
        await driver.admin("admin.load", DONGYING)
        moves: list[dict[str, Any]] = []

        def advance(delta: timedelta) -> None:
            moves.append({"advance": f"{delta.total_seconds():.3f}"})

        first = await driver.pos("2102", pharmacy_input("DR", "80.00"))
        assert first["code"] == "POOLING_AVAILABLE"
        advance(after)
        moved = await driver.admin("admin.clock", moves[0])
        assert moved["output"]["now"] == (T0 + after).isoformat(timespec="milliseconds")
        second = await driver.pos("2102", pharmacy_input("DR", "80.00"))
        assert second["code"] == expected
    finally:
        await switch.stop()


async def test_window_expires_at_is_the_switch_clock_not_inf_time(tmp_path: Path) -> None:
    """inf_time is informational: a terminal clock hours off changes nothing about the window."""
    switch = make_switch(tmp_path / "i.db", VirtualClock(T0))
    await switch.start()
    try:
        driver = Driver(switch)
        await driver.admin("admin.load", DONGYING)
        first = await driver.pos("2102", pharmacy_input("DR", "80.00"), inf_time="1999-01-01 00:00:00")
        assert first["output"]["window_expires_at"] == "2026-11-25T10:05:00.000+08:00"
        second = await driver.pos("2102", pharmacy_input("DR", "80.00"), inf_time="2099-01-01 00:00:00")
        assert second["code"] == "OK"
    finally:
        await switch.stop()


async def test_sweeper_wakes_for_the_next_expiry_on_a_running_clock(tmp_path: Path) -> None:
    """At 60× the 300 s window ends in 5 real seconds: the sweeper sleeps that long, not a fixed second more."""
    clock = VirtualClock(T0)
    switch = make_switch(tmp_path / "s.db", clock)
    await switch.start()
    try:
        driver = Driver(switch)
        await driver.admin("admin.load", DONGYING)
        assert switch.seconds_to_next_expiry() == 1.0  # no window: the idle poll
        await driver.pos("2102", pharmacy_input("DR", "80.00"))
        assert switch.seconds_to_next_expiry(longest=60) == 60  # frozen: admin.clock sweeps
        clock.set_speed(60)
        assert 4.9 < switch.seconds_to_next_expiry(longest=60) <= 5.0
        clock.set(T0 + timedelta(seconds=299.97))
        assert switch.seconds_to_next_expiry() <= 0.03 / 60 + 0.005
    finally:
        await switch.stop()


async def test_a_window_opened_between_milliseconds_ends_where_its_answer_says(tmp_path: Path) -> None:
    """The answer shows expires_at to the millisecond; a clock read between milliseconds must not open a window
    that really ends later (moved 0.5 ms, a swipe at the shown 10:05:00.000 paid from DH's account)."""
    switch = make_switch(tmp_path / "m.db", VirtualClock(T0))
    await switch.start()
    try:
        driver = Driver(switch)
        await driver.admin("admin.load", DONGYING)
        moved = await driver.admin("admin.clock", {"advance": "0.0005"})
        assert moved["output"]["now"] == T0.isoformat(timespec="milliseconds")
        first = await driver.pos("2102", pharmacy_input("DR", "80.00"))
        assert first["code"] == "POOLING_AVAILABLE"
        shown = first["output"]["window_expires_at"]
        assert shown == (T0 + timedelta(seconds=300)).isoformat(timespec="milliseconds")
        await driver.admin("admin.clock", {"set": shown})
        second = await driver.pos("2102", pharmacy_input("DR", "80.00"))
        assert second["code"] == "POOLING_AVAILABLE"
        assert (await driver.balances())["DH"] == "500.00"
    finally:
        await switch.stop()


async def test_the_system_clock_is_read_in_whole_milliseconds() -> None:
    """What the switch decides at is what its answers show: the wire's timestamps are in milliseconds."""
    readings = [SystemClock().now() for _ in range(50)]
    assert all(at.microsecond % 1000 == 0 for at in readings)


async def test_a_window_finer_than_a_millisecond_is_refused(tmp_path: Path) -> None:
    """A policy's window_seconds with a 0.1 ms part would end between two instants the answers can show."""
    switch = make_switch(tmp_path / "w.db", VirtualClock(T0))
    await switch.start()
    try:
        answer = await Driver(switch).admin("admin.policy", {"set": {**SHORT_WINDOW, "window_seconds": "0.0001"}})
        assert answer["code"] == "INVALID_REQUEST"
        assert "window_seconds" in answer["err_msg"] and "3 decimal places" in answer["err_msg"]
    finally:
        await switch.stop()
