"""The journal table: written by the SQLite store in its own thread, read by ``gongji-switch journal``."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from switch.journal.hints import Heard, row_of
from switch.store.base import StoreError

__all__ = ["INSERT_SQL", "JOURNAL_SCHEMA", "PRUNE_SQL", "JournalRow", "JournalSlice", "read_journal", "rows_of",
           "select_after"]

log = logging.getLogger("gongji.journal")
# No index but the rowid: inserts stay cheap, and a bounded table scans in milliseconds.
JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY, received REAL NOT NULL, switch_time TEXT, topic TEXT NOT NULL, channel TEXT,
    sender TEXT, infno TEXT, msgid TEXT, code TEXT, answers INTEGER NOT NULL, took_ms REAL, hint TEXT,
    request BLOB NOT NULL, request_size INTEGER NOT NULL, response BLOB, response_size INTEGER);
"""
_COLUMNS = ("received, switch_time, topic, channel, sender, infno, msgid, code, answers, took_ms, hint, "
            "request, request_size, response, response_size")


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    received: float
    switch_time: str | None
    topic: str
    channel: str | None
    sender: str | None
    infno: str | None
    msgid: str | None
    code: str | None
    answers: int
    took_ms: float | None
    hint: str | None
    request: bytes
    request_size: int
    response: bytes | None
    response_size: int | None


def rows_of(heard: Sequence[Heard], limit: int) -> list[tuple[object, ...]]:
    """The rows of ``heard``; a message that cannot be described is logged and left out, never the batch."""
    rows = []
    for h in heard:
        try:
            rows.append(tuple(_storable(v) for v in row_of(h, limit)))
        except Exception:  # diagnostics must never fail the ledger transaction they ride in
            log.exception("journal: cannot describe a message on %s; not journaled", h.topic)
    return rows


# Run by the ledger writer (switch/store/writer_child.py), behind a savepoint in the batch's transaction.
INSERT_SQL = f"INSERT INTO journal ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"


def _storable(value: object) -> object:
    """Text SQLite can hold: a lone surrogate from a hostile payload is kept as its escape, ``\\ud800``."""
    if isinstance(value, str) and not value.isascii():  # isascii is a flag lookup: ASCII has no surrogates
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


# Keep the newest ? rows (ids only grow, so this is a range delete on the rowid).
PRUNE_SQL = "DELETE FROM journal WHERE id <= (SELECT max(id) FROM journal) - ?"


@dataclass(frozen=True, slots=True)
class JournalSlice:
    """Which rows a reader asks for: after a row id, at most ``limit``, of a terminal and/or an institution."""

    after: int = 0
    limit: int = 100
    terminal: str | None = None
    fixmedins_code: str | None = None


def _terminal_filter(terminal: str) -> tuple[str, list[object]]:
    # A stray message's sender is a guess; its topic still names the terminal.
    escaped = terminal.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "(sender = ? OR topic LIKE ? ESCAPE '\\')", [terminal, f"%/{escaped}/%"]


def select_after(db: sqlite3.Connection, query: JournalSlice) -> list[JournalRow]:
    """The oldest ``query.limit`` rows after ``query.after`` matching its filters, oldest first."""
    where: list[str] = ["id > ?"]
    args: list[object] = [query.after]
    if query.terminal is not None:
        clause, more = _terminal_filter(query.terminal)
        where.append(clause)
        args += more
    if query.fixmedins_code is not None:
        # The national door's sender is the institution; an MQTT terminal names it in its envelope. CASE, not
        # AND: only CASE promises json_extract never sees a malformed (or cut) payload.
        where.append("(sender = ? OR CASE WHEN json_valid(CAST(request AS TEXT)) "
                     "THEN json_extract(CAST(request AS TEXT), '$.fixmedins_code') END = ?)")
        args += [query.fixmedins_code, query.fixmedins_code]
    sql = f"SELECT id, {_COLUMNS} FROM journal WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"  # fixed columns
    args.append(query.limit)
    return [JournalRow(*row) for row in db.execute(sql, args).fetchall()]


def read_journal(path: Path, *, terminal: str | None = None, msgid: str | None = None,
                 since: float | None = None, limit: int = 50) -> list[JournalRow]:
    """The newest ``limit`` rows matching the filters, oldest first; the database is opened read-only."""
    if not path.is_file():
        raise StoreError(f"no database at {path}")
    where: list[str] = []
    args: list[object] = []
    if terminal is not None:
        clause, more = _terminal_filter(terminal)
        where.append(clause)
        args += more
    if msgid is not None:
        where.append("msgid = ?")
        args.append(msgid)
    if since is not None:
        where.append("received >= ?")
        args.append(since)
    sql = f"SELECT id, {_COLUMNS} FROM journal"  # a fixed column list
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = db.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the traffic journal of {path}: {exc}") from None
    finally:
        db.close()
    return [JournalRow(*row) for row in reversed(rows)]
