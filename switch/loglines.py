"""The switch's log lines: the same lines as logging's StreamHandler, written once per event-loop turn."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TextIO

__all__ = ["LINE_FORMAT", "LineFormatter", "TurnHandler"]

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LineFormatter(logging.Formatter):
    """logging.Formatter whose asctime reuses the text of the current second (localtime and strftime once)."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second = -1
        self._text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.stamp(record.created, record.msecs)

    def stamp(self, created: float, msecs: float) -> str:
        """asctime of a moment (time.time()) and its milliseconds, as logging.Formatter writes it."""
        second = int(created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return f"{self._text},{int(msecs):03d}"  # logging.Formatter.default_msec_format


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
        self._queue(line)

    def direct(self, logger: logging.Logger) -> bool:
        """Whether a line of ``logger`` may be handed to ``line`` instead of logging: this handler alone
        (the root's only one, nothing on the way filtering), writing the switch's own line format."""
        formatter = self.formatter
        if not (isinstance(formatter, LineFormatter) and formatter._fmt == LINE_FORMAT and not self.filters
                and self.level <= logging.INFO and logging.root.handlers == [self] and not logging.root.filters):
            return False
        step: logging.Logger | None = logger
        while step is not None and step is not logging.root:
            if step.disabled or step.handlers or step.filters or not step.propagate:
                return False
            step = step.parent
        return True

    def line(self, levelname: str, name: str, message: str) -> None:
        """The line logging would write for ``message`` (with ``direct`` true), without a LogRecord: the
        switch writes one per answer, and the record, its handlers' calls and the formatting were most of it."""
        created = time.time()
        formatter: LineFormatter = self.formatter  # type: ignore[assignment]  # direct() checked
        self._queue(f"{formatter.stamp(created, (created - int(created)) * 1000)} {levelname} {name}: {message}")

    def _queue(self, line: str) -> None:
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
