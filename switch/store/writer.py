"""The switch's side of the ledger writer process (``writer_child.py``): write transactions over a pipe.

Strategy: the statements of a transaction are recorded in the switch (``Ops`` stands in for the
connection), pickled as one frame and run by the writer, which answers each frame in order once
its COMMIT returned. Frames are pipelined: a reader task resolves the oldest waiting future with
each answer. The writer inherits the ledger's lock, so the file stays locked until both are gone.
If the writer ends, every waiting and later write fails with a StoreError: memory is then ahead of
disk, and the committer stops the switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import struct
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from switch.store.base import StoreError

__all__ = ["Ops", "WriterProcess"]

_LEN = struct.Struct(">I")
_CHILD = Path(__file__).with_name("writer_child.py")

Op = tuple[str, list[Sequence[Any]]]


class Ops:
    """Records ``execute``/``executemany`` in order, merging a run of the same statement into one op."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.ops and self.ops[-1][0] == sql:
            self.ops[-1][1].append(params)
        else:
            self.ops.append((sql, [params]))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self.ops.append((sql, rows))


class WriterProcess:
    """One writer process for the ledger at ``path``; ``run`` sends a transaction and waits for its COMMIT."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._proc: asyncio.subprocess.Process | None = None
        self._waiting: deque[asyncio.Future[list[int]]] = deque()
        self._reader: asyncio.Task[None] | None = None
        self._ended: str | None = None

    async def start(self, lock_fd: int | None) -> None:
        fds = (lock_fd,) if lock_fd is not None else ()
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(_CHILD), str(self.path), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, pass_fds=fds, limit=1 << 20)
        assert self._proc.stdout is not None  # asked for: stdout=PIPE
        self._reader = asyncio.create_task(self._read_answers(self._proc.stdout), name="gongji-ledger-writer")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def run(self, ops: list[Op], journal: tuple[str, list[Any]] | None = None) -> asyncio.Future[list[int]]:
        """Send one transaction; the future gives each op's rowcount once it is on disk."""
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        proc = self._proc
        if self._ended is not None or proc is None or proc.stdin is None:
            done.set_exception(StoreError(self._ended or "the ledger writer is not running"))
            return done
        try:
            body = pickle.dumps((ops, journal), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, ValueError) as exc:
            done.set_exception(StoreError(f"a write could not be encoded for the ledger writer: {exc}"))
            return done
        self._waiting.append(done)
        proc.stdin.write(_LEN.pack(len(body)) + body)
        return done

    async def _read_answers(self, out: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await out.readexactly(_LEN.size)
                kind, value = pickle.loads(await out.readexactly(_LEN.unpack(head)[0]))
                done = self._waiting.popleft()
                if done.done():
                    continue
                if kind == "ok":
                    done.set_result(value)
                else:
                    done.set_exception(StoreError(str(value)))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self._end(f"the ledger writer process ended ({exc.__class__.__name__}); "
                      f"writes after it are not on disk")
        except asyncio.CancelledError:
            self._end("the ledger writer was stopped")
            raise

    def _end(self, why: str) -> None:
        self._ended = why
        while self._waiting:
            done = self._waiting.popleft()
            if not done.done():
                done.set_exception(StoreError(why))

    async def stop(self) -> None:
        """Let the writer finish what it was sent, then end it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(ConnectionError):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._end("the ledger writer was stopped")
