"""The national envelope's values: 30-digit inf_refmsgid, yyyyMMddHHmmssSSS times, the msgid shape warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switch.wire.national import RefmsgidSource, msgid_warning, platform_time, region_of
from tests.unit.core_helpers import T0

CODE = "P37050000001"
SHAPE = (f"the platform's msgid is fixmedins_code + yyyyMMddHHmmss + a 4-digit sequence (30 characters here, "
         f"e.g. {CODE}202611251000000001)")


@pytest.mark.parametrize(("given", "region"), [
    ("370500", "370500"), (None, "000000"), ("", "000000"), ("3705", "000000"), ("37050X", "000000"),
    ("3705001", "000000"), ("３７０５００", "000000"),
])
def test_region_is_mdtrtarea_admvs_when_six_digits(given: str | None, region: str) -> None:
    """inf_refmsgid starts with mdtrtarea_admvs when it is 6 ASCII digits, else 000000."""
    assert region_of(given) == region


@pytest.mark.parametrize(("at", "text"), [
    (T0, "20261125100000000"),
    (T0 + timedelta(milliseconds=123, microseconds=999), "20261125100000123"),
    (datetime(2026, 11, 25, 16, 30, 5, 7000, tzinfo=UTC), "20261126003005007"),
])
def test_platform_time_is_china_time_to_the_millisecond(at: datetime, text: str) -> None:
    """refmsg_time / respond_time: yyyyMMddHHmmssSSS in China time, milliseconds truncated."""
    assert platform_time(at) == text


def test_refmsgid_is_30_digits_region_time_sequence() -> None:
    """Region + switch-clock time + a 10-digit sequence rising by one per id within a second of real time."""
    source = RefmsgidSource(real_time=lambda: 1_700_000_000.0)
    first, second = source.next("370500", T0), source.next(None, T0 + timedelta(seconds=1))
    # 1,700,000,000 s × 10,000 steps a second, modulo 10**10: 0
    assert first == "370500" + "20261125100000" + "0000000000"
    assert second == "000000" + "20261125100001" + "0000000001"
    assert len(first) == len(second) == 30 and first.isdigit()


def test_refmsgids_never_repeat_across_a_restart_on_a_reset_virtual_clock() -> None:
    """A switch restarted with its virtual clock set back issues ids above every id its predecessor issued."""
    real = [1_700_000_000.0]
    before = RefmsgidSource(real_time=lambda: real[0])
    issued = {before.next("370500", T0) for _ in range(5_000)}  # a burst: half a second's worth at RATE
    real[0] += 1.0  # the restart takes a second of real time
    after = RefmsgidSource(real_time=lambda: real[0])
    again = {after.next("370500", T0) for _ in range(5_000)}
    assert len(issued) == len(again) == 5_000 and not issued & again
    assert min(again) > max(issued)


def test_refmsgid_sequence_does_not_go_back_when_real_time_does() -> None:
    """A system clock stepped back does not make the sequence repeat within the process."""
    real = [1_700_000_010.0]
    source = RefmsgidSource(real_time=lambda: real[0])
    first = source.next("370500", T0)
    real[0] -= 10.0
    assert source.next("370500", T0) > first


@pytest.mark.parametrize(("msgid", "warning"), [
    (f"{CODE}202611251000000001", None),
    ("T1-000001", f"msgid 'T1-000001' does not start with fixmedins_code '{CODE}'; {SHAPE}"),
    (f"{CODE}20261125100000001", f"msgid '{CODE}20261125100000001' has 17 characters after fixmedins_code, "
                                 f"not 18; {SHAPE}"),
    (f"{CODE}2026112510000000012", f"msgid '{CODE}2026112510000000012' has 19 characters after fixmedins_code, "
                                   f"not 18; {SHAPE}"),
    (f"{CODE}20261125-100000001", f"msgid '{CODE}20261125-100000001' has non-digits after fixmedins_code "
                                  f"('20261125-100000001'); {SHAPE}"),
    (f"{CODE}202613251000000001", f"msgid '{CODE}202613251000000001' has '20261325100000' where a time "
                                  f"yyyyMMddHHmmss belongs; {SHAPE}"),
    (f"{CODE}202611251060000001", f"msgid '{CODE}202611251060000001' has '20261125106000' where a time "
                                  f"yyyyMMddHHmmss belongs; {SHAPE}"),
])
def test_msgid_warning_says_exactly_what_is_wrong(msgid: str, warning: str | None) -> None:
    """A msgid not shaped fixmedins_code + yyyyMMddHHmmss + 4 digits gets a warn_msg naming the fault."""
    assert msgid_warning(msgid, CODE) == warning


_REAL_TIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


@given(st.text(alphabet="0123456789", min_size=14, max_size=14)
       | _REAL_TIMES.map(lambda d: f"{d.year:04d}{d:%m%d%H%M%S}"))
@settings(max_examples=2000)
def test_the_msgid_time_check_agrees_with_strptime(digits: str) -> None:
    """The fast check of a msgid's yyyyMMddHHmmss accepts exactly what datetime.strptime accepts."""
    try:
        datetime.strptime(digits, "%Y%m%d%H%M%S")
        expected = None
    except ValueError:
        expected = f"msgid '{CODE}{digits}0001' has '{digits}' where a time yyyyMMddHHmmss belongs"
    warning = msgid_warning(f"{CODE}{digits}0001", CODE)
    assert (warning if warning is None else warning.split(";")[0]) == expected
