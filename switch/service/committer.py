"""Group commit: requests decided one by one, written many to a transaction, answered after it.

Strategy: each request's effects are already applied in memory when it is queued here; the
loop takes everything queued, commits it in one transaction, then releases every waiter. While
one batch is on disk the next one gathers, so fsyncs are shared under load and a lone request
still commits at once. A failed commit means memory is ahead of disk: the switch must stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from switch.store.base import Commit, Store

__all__ = ["Committer"]

log = logging.getLogger("gongji.committer")
MAX_BATCH = 512


class Committer:
    def __init__(self, store: Store, on_failure: Callable[[BaseException], Awaitable[None] | None]) -> None:
        self._store = store
        self._queue: asyncio.Queue[tuple[Commit, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._on_failure = on_failure
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gongji-committer")

    def submit(self, commit: Commit) -> asyncio.Future[None]:
        """Queue a commit; the future resolves once it is durable (synchronous, so order is kept)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failure is not None:  # nothing may be answered once memory is ahead of disk
            done.set_exception(self.failure)
        else:
            self._queue.put_nowait((commit, done))
        return done

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._store.commit([c for c, _ in batch])
            except BaseException as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                self.failure = exc
                while not self._queue.empty():
                    _, waiting = self._queue.get_nowait()
                    waiting.set_exception(exc)
                log.critical("commit failed, memory is ahead of disk; stopping: %s", exc)
                result = self._on_failure(exc)
                if result is not None:
                    await result
                return
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def drain(self) -> None:
        """Wait until everything queued so far is durable."""
        await self.submit(Commit((), None))

    async def stop(self) -> None:
        if self._task is not None:
            if not self._task.done():
                await self.drain()
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
