"""The switch process's garbage collection: the ledger frozen out of collections, old cycles still freed."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from switch.service.heap import freeze_state, keep_young


class _Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_survivors_are_frozen_and_a_full_collection_frees_old_cycles(
        caplog: pytest.LogCaptureFixture) -> None:
    """freeze_state leaves live objects out of collections; keep_young freezes what survived since; the
    periodic full collection unfreezes and frees a cycle that died after being frozen; stop ends it."""
    try:
        freeze_state()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        survivor = [_Cycle() for _ in range(100)]
        stop = asyncio.Event()
        task = asyncio.create_task(keep_young(stop, every=0.01, full_every=3600))
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() >= frozen + 100  # the young survivors joined the frozen ones
        del survivor  # 100 cycles, already frozen: only a full collection can free them
        stop.set()
        await asyncio.wait_for(task, 1)
        with caplog.at_level(logging.INFO, logger="gongji.heap"):
            stop = asyncio.Event()
            task = asyncio.create_task(keep_young(stop, every=0.01, full_every=0.0))
            await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, 1)
        freed = [r.getMessage() for r in caplog.records if r.name == "gongji.heap"]
        assert freed and any(int(m.split(": ")[1].split()[0]) >= 100 for m in freed)
    finally:
        gc.unfreeze()
