"""Group commit: requests decided one by one, written many to a transaction, answered after it.

Strategy: each request's effects are already applied in memory when it is submitted here. With no
batch at the store, a submitted commit is sent at once; while one is on disk the next ones gather,
and the moment it is durable every waiter is released and everything gathered goes as the next
batch. So fsyncs are shared under load and a lone request still commits at once, in the loop turn
it was decided (no task of its own to wake: at low rates every turn of the event loop between a
request and its durable answer costs about as much CPU as a piece of the work).
A failed commit means memory is ahead of disk: the switch must stop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from switch.store.base import Commit, Store, StoreError

__all__ = ["Committer"]

log = logging.getLogger("gongji.committer")
MAX_BATCH = 512

_Waiting = list[tuple[Commit, asyncio.Future[None]]]


class Committer:
    def __init__(self, store: Store, on_failure: Callable[[BaseException], None]) -> None:
        self._store = store
        self._gathered: _Waiting = []  # decided while a batch is on disk: the next batch
        self._at_store = False  # a batch was sent and is not yet durable
        self._on_failure = on_failure
        self.failure: BaseException | None = None
        self._started = False

    def start(self) -> None:
        """The store is open: commits may be written (``stop`` waits for them only after this)."""
        self._started = True

    def submit(self, commit: Commit) -> asyncio.Future[None]:
        """Queue a commit; the future resolves once it is durable (synchronous, so order is kept)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failure is not None:  # nothing may be answered once memory is ahead of disk
            done.set_exception(self.failure)
            return done
        self._gathered.append((commit, done))
        if not self._at_store:
            self._send()
        return done

    def _send(self) -> None:
        batch, self._gathered = self._gathered[:MAX_BATCH], self._gathered[MAX_BATCH:]
        self._at_store = True
        try:
            self._store.send([c for c, _ in batch], functools.partial(self._durable, batch))
        except Exception as exc:  # the batch could not even be written down for the store
            self._durable(batch, StoreError(f"commit failed: {exc}"))

    def _durable(self, batch: _Waiting, error: StoreError | None) -> None:
        self._at_store = False
        if error is not None:
            self._fail(batch, error)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
        if self._gathered:
            self._send()

    def _fail(self, batch: _Waiting, exc: BaseException) -> None:
        self.failure = exc
        waiting, self._gathered = batch + self._gathered, []
        for _, done in waiting:
            if not done.done():
                done.set_exception(exc)
        log.critical("commit failed, memory is ahead of disk; stopping: %s", exc)
        self._on_failure(exc)

    async def drain(self) -> None:
        """Wait until everything queued so far is durable."""
        await self.submit(Commit((), None))

    async def stop(self) -> None:
        """Wait for what was submitted to be durable (unless the store never opened or a commit failed)."""
        if self._started and self.failure is None:
            await self.drain()
        self._started = False
