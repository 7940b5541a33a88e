"""The switch's log handler: the same lines as logging's own, written once per event-loop turn."""

from __future__ import annotations

import asyncio
import io
import logging

from switch.loglines import LineFormatter, TurnHandler

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
