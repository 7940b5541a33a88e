"""Journaling every exchange through any door: the request as heard, the answers sent, and the time taken.

Strategy: the door's ``Serve`` is wrapped, so no door knows the journal exists; the wrapper
only appends a ``Heard`` (see ``switch.journal.hints``) and a loop writes the buffer when the
switch is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from switch.core.model import iso
from switch.journal.hints import Heard, Journal, JournalWriter
from switch.service.clock import Clock
from switch.service.delivery import Reply, Send, Serve

__all__ = ["FLUSH_SECONDS", "flush_journal", "journaled"]

log = logging.getLogger("gongji.journal")
FLUSH_SECONDS = 1.0


def journaled(serve: Serve, journal: Journal, clock: Clock) -> Serve:
    """``serve``, with each request and every answer it sent recorded in ``journal``."""

    async def recorded(where: str, channel: str, sender: str, payload: bytes, send: Send, /, *,
                       infno: str | None = None) -> Reply | None:
        received, started, switch_time = time.time(), time.perf_counter(), iso(clock.now())
        answers: list[bytes] = []
        reply = None

        def sent(answer: bytes) -> bool:
            went = send(answer)
            if went:
                answers.append(answer)
            return went

        try:
            reply = await serve(where, channel, sender, payload, sent, infno=infno)
        finally:
            said = reply.said if reply is not None and reply.code == "OK" else None
            journal.record(Heard(received, switch_time, where, channel, sender, payload, tuple(answers),
                                 (time.perf_counter() - started) * 1000, said=said))
        return reply

    return recorded


async def flush_journal(writer: JournalWriter, stop: asyncio.Event) -> None:
    """Write what the journal buffered about once a second (busy switches write it with their batches)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FLUSH_SECONDS)
        try:
            await writer.write_journal()
        except Exception:
            log.exception("traffic journal write failed")
