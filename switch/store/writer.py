"""The switch's side of the ledger writer process (``writer_child.py``): write transactions over a pipe.

Strategy: the statements of a transaction are recorded in the switch (``Ops`` stands in for the
connection), pickled as one frame and run by the writer, which answers each frame in order once
its COMMIT returned. Frames are pipelined: a reader task resolves the oldest waiting future with
each answer. The writer inherits the ledger's lock, so the file stays locked until both are gone.
If the writer ends, every waiting and later write fails with a StoreError: memory is then ahead of
disk, and the committer stops the switch.

The answers are read by a protocol, not a task: each whole frame calls its transaction's ``Answer``
where it is read, so a commit is released in the loop turn its COMMIT arrives (a reader task, and a
future between it and the committer, each cost a turn of the event loop more per commit).
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from switch.store.base import StoreError

__all__ = ["Answer", "Ops", "WriterProcess"]

log = logging.getLogger("gongji.store")

_LEN = struct.Struct(">I")
_CHILD = Path(__file__).with_name("writer_child.py")

Op = tuple[str, list[Sequence[Any]]]
# Called once per transaction sent: each op's rowcount once it is on disk, or the StoreError that ended it.
Answer = Callable[[list[int] | StoreError], None]


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
    """One writer process for the ledger at ``path``; ``send`` or ``run`` a transaction, answered once it is on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._answers: _Answers | None = None
        self._waiting: deque[Answer] = deque()
        self._ended: str | None = None
        self._stopping = False

    async def start(self, lock_fd: int | None) -> None:
        fds = (lock_fd,) if lock_fd is not None else ()
        loop = asyncio.get_running_loop()
        transport, answers = await loop.subprocess_exec(
            lambda: _Answers(self, loop), sys.executable, "-I", str(_CHILD), str(self.path),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, pass_fds=fds)
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)  # asked for: stdin=PIPE
        self._transport, self._stdin, self._answers = transport, stdin, answers

    @property
    def pid(self) -> int | None:
        return self._transport.get_pid() if self._transport is not None else None

    def send(self, ops: list[Op], journal: tuple[str, list[Any]] | None, answer: Answer) -> None:
        """Send one transaction; ``answer`` is called once it is on disk, or with a StoreError (at once
        when it cannot be sent)."""
        stdin = self._stdin
        if self._ended is not None or stdin is None:
            answer(StoreError(self._ended or "the ledger writer is not running"))
            return
        try:
            body = pickle.dumps((ops, journal), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, ValueError) as exc:
            answer(StoreError(f"a write could not be encoded for the ledger writer: {exc}"))
            return
        self._waiting.append(answer)
        stdin.write(_LEN.pack(len(body)) + body)

    def run(self, ops: list[Op], journal: tuple[str, list[Any]] | None = None) -> asyncio.Future[list[int]]:
        """``send``, with a future for the answer."""
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()

        def answer(result: list[int] | StoreError) -> None:
            if not done.done():
                if isinstance(result, StoreError):
                    done.set_exception(result)
                else:
                    done.set_result(result)

        self.send(ops, journal, answer)
        return done

    def _answered(self, kind: str, value: Any) -> None:
        if not self._waiting:  # the writer answers only what it was sent
            self._end(f"the ledger writer answered a transaction it was not sent ({kind})")
            return
        answer = self._waiting.popleft()
        try:
            answer(value if kind == "ok" else StoreError(str(value)))
        except Exception:  # a bug in one waiter must not stop the answers to the others
            log.exception("handling the ledger writer's answer failed")

    def _end(self, why: str) -> None:
        if self._ended is None:
            self._ended = why
        while self._waiting:
            answer = self._waiting.popleft()
            try:
                answer(StoreError(self._ended))
            except Exception:
                log.exception("handling the end of the ledger writer failed")

    def _output_ended(self) -> None:
        self._end("the ledger writer was stopped" if self._stopping else
                  "the ledger writer process ended; writes after it are not on disk")

    async def stop(self) -> None:
        """Let the writer finish what it was sent, then end it."""
        transport, answers, stdin = self._transport, self._answers, self._stdin
        self._transport = self._stdin = self._answers = None
        if transport is None or answers is None:
            return
        self._stopping = True
        if stdin is not None:
            stdin.close()  # end of input: the writer answers what it holds, then ends
        try:
            await asyncio.wait_for(asyncio.shield(answers.finished), 30)
        except TimeoutError:
            transport.kill()
            await answers.finished
        transport.close()
        self._end("the ledger writer was stopped")


class _Answers(asyncio.SubprocessProtocol):
    """The writer's output as it arrives: a 4-byte length, then a pickled ``(kind, value)``, per transaction."""

    def __init__(self, writer: WriterProcess, loop: asyncio.AbstractEventLoop) -> None:
        self._writer = writer
        self._buffer = bytearray()
        self.finished: asyncio.Future[None] = loop.create_future()  # exited, and every pipe closed

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _LEN.size:
            end = _LEN.size + _LEN.unpack_from(buffer)[0]
            if len(buffer) < end:
                return
            kind, value = pickle.loads(buffer[_LEN.size:end])
            del buffer[:end]
            self._writer._answered(kind, value)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._writer._output_ended()

    def connection_lost(self, exc: Exception | None) -> None:
        self._writer._output_ended()
        if not self.finished.done():
            self.finished.set_result(None)
