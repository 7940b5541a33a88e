"""The ledger's older traffic, read back on demand: settlements, spending rows, answers, visits and sign-ins
that left memory.

Strategy: the switch keeps its newest traffic in memory (``KEEP`` of each kind, ``serve --keep``)
and reads older rows from the ledger file only when a request names one: a cancel of an old
setl_id, a msgid reused after its answer left memory, an old page of spending, a 2205 or 2207 on
an old visit (read with its batches), a 9002 of an old sign-in. A read is a
lookup on an index, run on the event loop's own thread with a connection of its own: about
8 µs on a ledger of half a million answers here, against the thread hop of an aiosqlite call
(tens of µs). WAL lets it read beside the writer process; only rows already durable leave
memory, so what it reads is what memory held.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from sys import intern
from typing import Any

from switch.core.clinic import Batch, SignIn, Visit
from switch.core.model import Record, Settlement
from switch.store.base import StoreError
from switch.store.clinic_sql import BATCH_COLUMNS, SIGN_IN_COLUMNS, VISIT_COLUMNS, chains_of, sign_in_of
from switch.store.schema import describe

__all__ = ["KEEP", "SETTLEMENT_COLUMNS", "LedgerArchive", "settlement_of"]

# Of each kind of traffic, how many of the newest stay in memory: about 20 MB of a switch's RSS, and about 26 MB
# more of visits (a visit with a batch of one fee line is about 1.3 KB).
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
_VISIT = f"SELECT {VISIT_COLUMNS} FROM visits WHERE mdtrt_id = ?"
_VISIT_BATCHES = f"SELECT {BATCH_COLUMNS} FROM batches WHERE mdtrt_id = ? ORDER BY rowid"
_SIGN_IN = f"SELECT {SIGN_IN_COLUMNS} FROM sign_ins WHERE sign_no = ?"
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
        return [record_of(row) for row in self._all(_RECORDS, (holder, below, limit))]

    def visit(self, mdtrt_id: str) -> tuple[Visit, list[Batch]] | None:
        row = self._one(_VISIT, (mdtrt_id,))
        if row is None:
            return None
        chains = chains_of([row], self._all(_VISIT_BATCHES, (mdtrt_id,)))
        return chains[0]

    def visits(self, psn_nos: Collection[str] | None) -> list[tuple[Visit, list[Batch]]]:
        """Every visit (of ``psn_nos``) with its batches: a walk of both tables (admin.state), not a lookup."""
        where, params = "", tuple(psn_nos or ())
        if psn_nos is not None:
            where = f" WHERE psn_no IN ({', '.join('?' * len(params))})"
        self.reads += 1
        return chains_of(self._all(f"SELECT {VISIT_COLUMNS} FROM visits{where}", params),
                         self._all(f"SELECT {BATCH_COLUMNS} FROM batches{where} ORDER BY rowid", params))

    def sign_in(self, sign_no: str) -> SignIn | None:
        row = self._one(_SIGN_IN, (sign_no,))
        return None if row is None else sign_in_of(row)

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"reading the ledger failed: {describe(exc)}") from None

    def reply(self, channel: str, sender: str, msgid: str, since: str) -> tuple[str, str, str, str | None] | None:
        """(infno, fingerprint, code, setl_id) of the answer recorded for the key at ``since`` or later."""
        row = self._one(_REPLY, (channel, sender, msgid, since))
        return None if row is None else (row[0], row[1], row[2], row[3])

    def close(self) -> None:
        self._db.close()
