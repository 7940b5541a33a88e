"""The switch's log handler: the same lines as logging's own, written once per event-loop turn."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Iterator

from freezegun import freeze_time

from switch.core.codes import Code
from switch.core.model import Decision
from switch.loglines import LINE_FORMAT, LineFormatter, TurnHandler
from switch.service import trail

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _record(created: float, msg: str = "PHA/T1 2207 m1 0 %s", *args: object) -> logging.LogRecord:
    record = logging.LogRecord("gongji.switch", logging.INFO, __file__, 1, msg, args or ("1.5 ms",), None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000)
    return record


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def test_formatter_writes_what_logging_formatter_writes() -> None:
    """Across a second's edge and within one, each line is byte for byte logging.Formatter's."""
    ours, theirs = LineFormatter(FORMAT), logging.Formatter(FORMAT)
    for created in (1_700_000_000.998, 1_700_000_000.999, 1_700_000_001.0005, 1_700_000_001.5, 1_700_003_600.25):
        assert ours.format(_record(created)) == theirs.format(_record(created))


def test_lines_of_one_turn_are_one_write_in_order() -> None:
    """Three lines logged in one loop turn reach the stream as one write, in order, by the turn's end."""
    stream = _CountingStream()
    handler = TurnHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))

    async def turn() -> tuple[str, str]:
        for n in range(3):
            handler.handle(_record(1_700_000_000.0, "line %s", n))
        during = stream.getvalue()
        await asyncio.sleep(0)
        return during, stream.getvalue()

    during, after = asyncio.run(turn())
    assert during == ""
    assert after == "line 0\nline 1\nline 2\n"
    assert stream.writes == 1


def test_lines_without_a_loop_are_written_at_once() -> None:
    """Outside a running loop, and after a loop closed with a write queued, a line is written when logged."""
    stream = _CountingStream()
    handler = TurnHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.handle(_record(1_700_000_000.0, "%s", "before"))
    assert stream.getvalue() == "before\n"

    async def log_and_leave() -> None:
        handler.handle(_record(1_700_000_000.0, "%s", "inside"))

    asyncio.run(log_and_leave())  # the loop ran its queued write before closing
    handler.handle(_record(1_700_000_000.0, "%s", "after"))
    assert stream.getvalue() == "before\ninside\nafter\n"


_SETTLED = Decision(Code.OK, {"setlinfo": {"medfee_sumamt": "80.00", "fund_pay_sumamt": "0.00", "acct_pay": "50.00",
                                           "acct_mulaid_pay": "30.00", "psn_cash_pay": "0.00"}})


def _answer_lines(through: TurnHandler | None) -> None:
    trail.write_through(through)
    started = time.perf_counter() - 0.0042
    trail.log_answer("pos", "T1", "2102", "m-1", Code.OK, _SETTLED, started)
    trail.log_answer("national", "H1", None, None, Code.INVALID_REQUEST, None, started)


@contextlib.contextmanager
def root_alone() -> Iterator[tuple[io.StringIO, TurnHandler]]:
    """The CLI's setup: a TurnHandler with the switch's format, the root's only handler (pytest's own
    capture handlers set aside), at INFO, on a frozen clock."""
    stream = io.StringIO()
    handler = TurnHandler(stream)
    handler.setFormatter(LineFormatter(LINE_FORMAT))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers, root.level = [handler], logging.INFO
    try:
        with freeze_time("2026-12-03 06:00:07.250"):
            yield stream, handler
    finally:
        root.handlers, root.level = saved
        trail.write_through(None)


def test_answer_lines_written_through_are_loggings_own() -> None:
    """The one line per answer, handed straight to the handler, is byte for byte the line logging writes."""
    with root_alone() as (stream, handler):
        _answer_lines(None)
        _answer_lines(handler)
    lines = stream.getvalue().splitlines()
    assert lines[:2] == lines[2:] == [
        "2026-12-03 06:00:07,250 INFO gongji.switch: pos/T1 2102 m-1 OK fee=80.00 fund=0.00 acct=50.00 "
        "mulaid=30.00 cash=0.00 4.2 ms",
        "2026-12-03 06:00:07,250 INFO gongji.switch: national/H1 None None INVALID_REQUEST 4.2 ms"]


def test_any_other_handler_gets_the_lines_through_logging() -> None:
    """With a second handler (pytest's caplog, an operator's file) or a filter, lines go through logging."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    with root_alone() as (stream, handler):
        logging.getLogger().addHandler(Keep())
        _answer_lines(handler)
        assert len(seen) == 2 and seen[1] == "national/H1 None None INVALID_REQUEST 4.2 ms"
        assert stream.getvalue().count("INFO gongji.switch: ") == 2
        logging.getLogger().handlers = [handler]
        handler.addFilter(lambda record: False)
        _answer_lines(handler)
        assert stream.getvalue().count("INFO gongji.switch: ") == 2  # the filter dropped both
