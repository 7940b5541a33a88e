"""The switch's log lines: the same lines as logging's StreamHandler, written once per event-loop turn."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TextIO

__all__ = ["LineFormatter", "TurnHandler"]


class LineFormatter(logging.Formatter):
    """logging.Formatter whose asctime reuses the text of the current second (localtime and strftime once)."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second = -1
        self._text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._text},{int(record.msecs):03d}"  # logging.Formatter.default_msec_format


class TurnHandler(logging.Handler):
    """Lines logged during one turn of the running event loop reach the stream in one write at its end.

    Under load the switch logs a line per answer; a line-buffered stream made each one a system call
    of its own. Lines logged outside the loop's thread (or with no loop running) are written at once.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._lines: list[str] = []
        self._pending: asyncio.AbstractEventLoop | None = None  # the loop a write is queued on

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # logging's own contract: a bad record is reported, never raised
            self.handleError(record)
            return
        self._lines.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write()
            return
        if self._pending is not loop:  # a loop closed with a write queued has dropped it: queue anew
            self._pending = loop
            loop.call_soon(self.flush)

    def _write(self) -> None:
        # Called with the handler's lock held (emit, flush).
        self._pending = None
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream loses the lines, as StreamHandler would
            pass

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()
