"""The ledger writer: a process of its own that runs the switch's write transactions on the SQLite file.

Run by path (``python writer_child.py DB``), never imported by the switch, so it starts with the
standard library alone. It reads frames from stdin: a 4-byte big-endian length, then a pickled
``(ops, journal_rows, journal_sql)``, where ``ops`` is a list of ``(sql, rows)`` run with
``executemany`` in order, inside one ``BEGIN IMMEDIATE`` transaction; journal rows ride in a
savepoint, so rows that cannot be written never fail the ledger's transaction. For each frame it
answers one frame, in order: ``("ok", rowcounts)`` once COMMIT returned (synchronous=FULL: on
disk), or ``("error", one line)`` after a rollback. It ends at end of input, and with its parent:
it asks the kernel for SIGKILL when the switch dies, so a restarted switch never meets it.

Why a process: in the switch's own interpreter, every step of every statement hands the GIL back
and forth with the thread that answers, and a busy event loop made each commit wait for it.
"""

from __future__ import annotations

import ctypes
import pickle
import signal
import sqlite3
import struct
import sys
from typing import Any, BinaryIO

_LEN = struct.Struct(">I")
PR_SET_PDEATHSIG = 1


def _end_only_with_input_or_parent() -> None:
    # Ctrl-C in a terminal, or a service manager stopping the group, signals every process of it: the
    # switch then still commits what it holds and closes its ledger, so the writer ends only when its
    # input ends (the switch closed it) or the switch is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: end of input still ends the writer
        pass


def _read(stream: BinaryIO, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def _journal(db: sqlite3.Connection, journal: tuple[str, list[Any]] | None) -> None:
    if not journal or not journal[1]:
        return
    sql, rows = journal
    db.execute("SAVEPOINT journal")
    try:
        db.executemany(sql, rows)
    except (sqlite3.Error, ValueError) as exc:
        db.execute("ROLLBACK TO journal")
        print(f"gongji ledger writer: {len(rows)} journal rows not journaled: {exc}", file=sys.stderr, flush=True)
    db.execute("RELEASE journal")


def _describe(exc: BaseException) -> str:
    """One line, with SQLite's own name for the error (SQLITE_FULL...) when it has one."""
    name = getattr(exc, "sqlite_errorname", None)
    text = str(exc) or type(exc).__name__
    return f"{text} ({name})" if name else text


def _transaction(db: sqlite3.Connection, ops: list[tuple[str, list[Any]]],
                 journal: tuple[str, list[Any]] | None) -> list[int]:
    db.execute("BEGIN IMMEDIATE")
    try:
        _journal(db, journal)
        # One row: execute, which also runs statements executemany refuses (a PRAGMA).
        counts = [(db.execute(sql, rows[0]) if len(rows) == 1 else db.executemany(sql, rows)).rowcount
                  for sql, rows in ops]
        db.execute("COMMIT")
        return counts
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def serve(path: str, inp: BinaryIO, out: BinaryIO) -> int:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    try:
        while (head := _read(inp, _LEN.size)) is not None:
            body = _read(inp, _LEN.unpack(head)[0])
            if body is None:
                break
            ops, journal = pickle.loads(body)
            try:
                answer: tuple[str, Any] = ("ok", _transaction(db, ops, journal))
            except (sqlite3.Error, ValueError, OverflowError, TypeError) as exc:
                answer = ("error", _describe(exc))
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            out.write(_LEN.pack(len(data)) + data)
            out.flush()
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    _end_only_with_input_or_parent()
    sys.exit(serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer))
