"""The switch process's garbage collection: the ledger frozen out of collections, old cycles still freed."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from functools import partial

import pytest

from switch.service.heap import freeze_state, keep_young


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _collectable(objs: list[_Cycle]) -> int:
    """How many of ``objs`` a collection would still look at (frozen objects are tracked but in no generation)."""
    ids = {id(o) for o in objs}
    return sum(1 for o in gc.get_objects() if id(o) in ids)


def _all_frozen(objs: list[_Cycle]) -> bool:
    return _collectable(objs) == 0


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for ``check`` (a loaded machine may be slow to run the task); the caller asserts after."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check() and loop.time() < end:
        await asyncio.sleep(0.01)


async def test_survivors_are_frozen_and_a_full_collection_frees_old_cycles(
        caplog: pytest.LogCaptureFixture) -> None:
    """freeze_state leaves live objects out of collections; keep_young freezes what survived since; the
    periodic full collection unfreezes and frees a cycle that died after being frozen; stop ends it."""
    try:
        freeze_state()
        assert gc.get_freeze_count() > 0
        survivor = [_Cycle() for _ in range(100)]
        assert _collectable(survivor) == 100
        stop = asyncio.Event()
        task = asyncio.create_task(keep_young(stop, every=0.01, full_every=3600))
        await _until(partial(_all_frozen, survivor))
        # the young survivors joined the frozen ones: still tracked, in no generation a collection walks
        assert _collectable(survivor) == 0 and all(gc.is_tracked(c) for c in survivor)
        del survivor  # 100 cycles, already frozen: only a full collection can free them
        stop.set()
        await asyncio.wait_for(task, 1)
        with caplog.at_level(logging.INFO, logger="gongji.heap"):
            stop = asyncio.Event()
            task = asyncio.create_task(keep_young(stop, every=0.01, full_every=0.0))
            await _until(lambda: any(r.name == "gongji.heap" for r in caplog.records))
            stop.set()
            await asyncio.wait_for(task, 1)
        freed = [r.getMessage() for r in caplog.records if r.name == "gongji.heap"]
        assert freed and any(int(m.split(": ")[1].split()[0]) >= 100 for m in freed)
    finally:
        gc.unfreeze()
