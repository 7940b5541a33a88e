"""The national envelope's own values: the platform's 30-digit inf_refmsgid, its times, the msgid check.

Strategy: these are what the national door needs beyond v1 and does not get from the core. They
are pure (the real-time source is injected), so the door stays thin and the rules are tested here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

__all__ = ["CHINA", "RefmsgidSource", "msgid_warning", "platform_time", "region_of"]

CHINA = timezone(timedelta(hours=8))
SEQUENCE_DIGITS = 10
_REGION = re.compile(r"[0-9]{6}")


def region_of(mdtrtarea_admvs: str | None) -> str:
    """The 6-digit region of an inf_refmsgid: the envelope's ``mdtrtarea_admvs`` when it is one, else 000000."""
    if mdtrtarea_admvs is not None and _REGION.fullmatch(mdtrtarea_admvs):
        return mdtrtarea_admvs
    return "000000"


def platform_time(at: datetime) -> str:
    """``yyyyMMddHHmmssSSS`` in China time, the platform's refmsg_time / respond_time."""
    return f"{_seconds(at)}{at.microsecond // 1000:03d}"  # a zone's offset leaves the microseconds as they are


def _seconds(at: datetime) -> str:
    """``yyyyMMddHHmmss`` in China time."""
    local = at.astimezone(CHINA)
    # %-formatting of the fields: a third of strftime's cost (and of an f-string's); three per national answer.
    return "%04d%02d%02d%02d%02d%02d" % (  # noqa: UP031
        local.year, local.month, local.day, local.hour, local.minute, local.second)


class RefmsgidSource:
    """Issues inf_refmsgid: region + ``yyyyMMddHHmmss`` (switch clock, China time) + a 10-digit sequence.

    Strategy: the switch clock may be virtual and set back to the same instant after every restart,
    so the time part cannot make ids unique. The sequence does, without storage: it is never below
    real time counted in steps of 1/RATE s, and rises by one per id. A restarted switch starts above
    every id its predecessor issued unless that one ran ahead of real time, i.e. issued more than RATE
    ids a second for long (ten times what a switch settles); it wraps every 10**10 / RATE s (11.5 days).
    """

    RATE = 10_000

    def __init__(self, real_time: Callable[[], float] = time.time) -> None:
        self._real_time = real_time
        self._last = -1

    def next(self, mdtrtarea_admvs: str | None, now: datetime) -> str:
        self._last = max(self._last + 1, int(self._real_time() * self.RATE))
        sequence = self._last % 10**SEQUENCE_DIGITS
        return f"{region_of(mdtrtarea_admvs)}{_seconds(now)}{sequence:0{SEQUENCE_DIGITS}d}"


def msgid_warning(msgid: str, fixmedins_code: str) -> str | None:
    """What is wrong with a msgid not shaped like the platform's, for ``warn_msg``; None when it is.

    The platform's msgid is ``fixmedins_code`` + ``yyyyMMddHHmmss`` + a 4-digit sequence. Such a msgid
    is still processed (gongji only needs it unique per sender); the real platform refuses it.
    """
    rest = msgid[len(fixmedins_code):]
    if msgid.startswith(fixmedins_code) and len(rest) == 18 and rest.isascii() and rest.isdigit() \
            and _is_time(rest[:14]):
        return None  # every national request passes here: the words below are only built for a wrong one
    shape = (f"the platform's msgid is fixmedins_code + yyyyMMddHHmmss + a 4-digit sequence "
             f"({len(fixmedins_code) + 18} characters here, e.g. {fixmedins_code}202611251000000001)")
    if not msgid.startswith(fixmedins_code):
        return f"msgid {msgid!r} does not start with fixmedins_code {fixmedins_code!r}; {shape}"
    if len(rest) != 18:
        return f"msgid {msgid!r} has {len(rest)} characters after fixmedins_code, not 18; {shape}"
    if not rest.isascii() or not rest.isdigit():
        return f"msgid {msgid!r} has non-digits after fixmedins_code ({rest!r}); {shape}"
    return f"msgid {msgid!r} has {rest[:14]!r} where a time yyyyMMddHHmmss belongs; {shape}"


def _is_time(digits: str) -> bool:
    """Whether 14 ASCII digits are a real ``yyyyMMddHHmmss`` (the calendar's days, seconds 00-59)."""
    try:
        datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]),
                 int(digits[12:14]))
    except ValueError:
        return False
    return True
