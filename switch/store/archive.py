"""The ledger's older traffic, read back on demand: settlements, spending rows and answers that left memory.

Strategy: the switch keeps its newest traffic in memory (``KEEP`` of each kind, ``serve --keep``)
and reads older rows from the ledger file only when a request names one: a cancel of an old
setl_id, a msgid reused after its answer left memory, an old page of spending. A read is a
lookup on an index, run on the event loop's own thread with a connection of its own: about
8 µs on a ledger of half a million answers here, against the thread hop of an aiosqlite call
(tens of µs). WAL lets it read beside the writer process; only rows already durable leave
memory, so what it reads is what memory held.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from sys import intern
from typing import Any

from switch.core.model import Record, Settlement
from switch.store.base import StoreError
from switch.store.schema import describe

__all__ = ["KEEP", "SETTLEMENT_COLUMNS", "LedgerArchive", "settlement_of"]

# Of each kind of traffic, how many of the newest stay in memory: about 20 MB of a switch's RSS.
KEEP = 20_000
SETTLEMENT_COLUMNS = ("setl_id, infno, terminal_id, msgid, fixmedins_code, psn_no, psn_name, insutype, setl_time, "
                      "medfee, fund, acct, mulaid, cash, balc, holder, status, med_type, mdtrt_cert_type, binding_id, "
                      "mdtrt_id")
_SHARED = ("infno", "terminal_id", "fixmedins_code", "psn_no", "psn_name", "insutype", "holder", "status", "med_type",
           "mdtrt_cert_type")
_SETTLEMENT = f"SELECT {SETTLEMENT_COLUMNS} FROM settlements WHERE setl_id = ?"
_SETTLED_ID = "SELECT setl_id FROM settlements WHERE terminal_id = ? AND msgid = ?"
_RECORDS = ("SELECT rec_id, holder, setl_id, psn_no, amount, at, fixmedins_code FROM records "
            "WHERE holder = ? AND rec_id < ? ORDER BY rec_id DESC LIMIT ?")
_REPLY = ("SELECT infno, fingerprint, code, setl_id FROM replies "
          "WHERE channel = ? AND sender = ? AND msgid = ? AND at >= ?")


def settlement_of(row: tuple[Any, ...]) -> Settlement:
    """A settlement from its row (the columns of SETTLEMENT_COLUMNS)."""
    s = Settlement(*row[:8], datetime.fromisoformat(row[8]), *row[9:])  # type: ignore[call-arg]
    for name in _SHARED:  # names every settlement repeats: one string each, not a copy per row
        if (value := getattr(s, name)) is not None:
            setattr(s, name, intern(value))
    return s


def record_of(row: tuple[Any, ...]) -> Record:
    rec_id, holder, setl_id, psn_no, amount, at, code = row
    return Record(rec_id, holder, setl_id, psn_no, amount, datetime.fromisoformat(at), code)


class LedgerArchive:
    """Reads of one ledger file by key, each a single indexed SELECT (the books' and the index's Archive)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read ledger {path}: {describe(exc)}") from None
        self.reads = 0

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        self.reads += 1
        try:
            return self._db.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"reading the ledger failed: {describe(exc)}") from None

    def settlement(self, setl_id: str) -> Settlement | None:
        row = self._one(_SETTLEMENT, (setl_id,))
        return None if row is None else settlement_of(row)

    def settled_id(self, terminal_id: str, msgid: str) -> str | None:
        row = self._one(_SETTLED_ID, (terminal_id, msgid))
        return None if row is None else str(row[0])

    def records(self, holder: str, below: int, limit: int) -> list[Record]:
        self.reads += 1
        try:
            return [record_of(row) for row in self._db.execute(_RECORDS, (holder, below, limit))]
        except sqlite3.Error as exc:
            raise StoreError(f"reading the ledger failed: {describe(exc)}") from None

    def reply(self, channel: str, sender: str, msgid: str, since: str) -> tuple[str, str, str, str | None] | None:
        """(infno, fingerprint, code, setl_id) of the answer recorded for the key at ``since`` or later."""
        row = self._one(_REPLY, (channel, sender, msgid, since))
        return None if row is None else (row[0], row[1], row[2], row[3])

    def close(self) -> None:
        self._db.close()
