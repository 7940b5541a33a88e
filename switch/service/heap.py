"""Garbage collection for a long-lived in-memory ledger: a full collection must not stall the answers.

Strategy: the state (people, bindings, settlements, the reply index) is hundreds of thousands
of objects that reference counting alone frees, yet CPython's full collection walks every one of
them: 30-60 ms without an answer at 10,000 people, more as the ledger grows. So the loaded state
is frozen out of the collector (``gc.freeze``), and every few seconds the young generations are
collected and whatever survived them is frozen too; automatic collections then only ever see a
few seconds of objects. Cyclic garbage that was already old when it died escapes that, so once
in a long while everything is unfrozen and collected in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

__all__ = ["FREEZE_EVERY", "FULL_EVERY", "freeze_state", "keep_young"]

log = logging.getLogger("gongji.heap")
FREEZE_EVERY = 5.0  # seconds
FULL_EVERY = 3_600.0


def freeze_state() -> None:
    """After the ledger is loaded: collect once, then leave everything alive out of later collections."""
    gc.collect()
    gc.freeze()


async def keep_young(stop: asyncio.Event, every: float = FREEZE_EVERY,
                     full_every: float = FULL_EVERY) -> None:
    """Until ``stop``: every ``every`` s collect the young generations and freeze what survived."""
    last_full = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if time.monotonic() - last_full >= full_every:
            started = time.perf_counter()
            gc.unfreeze()
            collected = gc.collect()
            gc.freeze()
            last_full = time.monotonic()
            log.info("full garbage collection: %d objects freed in %.0f ms", collected,
                     (time.perf_counter() - started) * 1000)
        else:
            gc.collect(1)
            gc.freeze()
