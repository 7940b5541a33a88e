"""The clinic's visits, charge batches and sign-ins in the ledger file: their tables, writes and reads.

A batch keeps its rowid when it changes (an upsert, not a replace), so a visit's batches read back
in rowid order come in the order they were first uploaded, as memory has them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from switch.core.clinic import Batch, FeeItem, PutBatch, PutSignIn, PutVisit, SignIn, Visit
from switch.core.model import Effect, State

__all__ = ["BATCH_COLUMNS", "CLINIC_SCHEMA", "CLINIC_TABLES", "SIGN_IN_COLUMNS", "VISIT_COLUMNS", "batch_of",
           "chains_of", "load", "sign_in_of", "visit_of", "write"]

CLINIC_SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    mdtrt_id TEXT PRIMARY KEY, psn_no TEXT NOT NULL, fixmedins_code TEXT NOT NULL, insutype TEXT NOT NULL,
    mdtrt_cert_type TEXT NOT NULL, ipt_otp_no TEXT NOT NULL, opened_at TEXT NOT NULL, status TEXT NOT NULL,
    med_type TEXT, dise_codg TEXT, dise_name TEXT);
CREATE TABLE IF NOT EXISTS batches (
    mdtrt_id TEXT NOT NULL, chrg_bchno TEXT NOT NULL, psn_no TEXT NOT NULL, items TEXT NOT NULL,
    uploaded_at TEXT NOT NULL, status TEXT NOT NULL, setl_id TEXT, PRIMARY KEY (mdtrt_id, chrg_bchno));
CREATE TABLE IF NOT EXISTS sign_ins (
    sign_no TEXT PRIMARY KEY, fixmedins_code TEXT NOT NULL, opter_no TEXT NOT NULL, at TEXT NOT NULL,
    signed_out_at TEXT);
"""
CLINIC_TABLES = ("visits", "batches", "sign_ins")
VISIT_COLUMNS = ("mdtrt_id, psn_no, fixmedins_code, insutype, mdtrt_cert_type, ipt_otp_no, opened_at, status, "
                 "med_type, dise_codg, dise_name")
BATCH_COLUMNS = "mdtrt_id, chrg_bchno, psn_no, items, uploaded_at, status, setl_id"
SIGN_IN_COLUMNS = "sign_no, fixmedins_code, opter_no, at, signed_out_at"
_PUT_BATCH = (f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (mdtrt_id, chrg_bchno) DO UPDATE SET psn_no = excluded.psn_no, items = excluded.items, "
              "uploaded_at = excluded.uploaded_at, status = excluded.status, setl_id = excluded.setl_id")


class _Writer(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> object: ...


def _items(items: tuple[FeeItem, ...]) -> str:
    return json.dumps([[i.feedetl_sn, i.med_list_codg, str(i.cnt), i.pric, i.amount] for i in items],
                      ensure_ascii=False)


def write(db: _Writer, effect: Effect) -> bool:
    """Write one of the clinic's effects; False for any other effect."""
    match effect:
        case PutVisit(visit=v):
            db.execute("INSERT OR REPLACE INTO visits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (v.mdtrt_id, v.psn_no, v.fixmedins_code, v.insutype, v.mdtrt_cert_type, v.ipt_otp_no,
                        v.opened_at.isoformat(), v.status, v.med_type, v.dise_codg, v.dise_name))
        case PutBatch(batch=b):
            db.execute(_PUT_BATCH,
                       (b.mdtrt_id, b.chrg_bchno, b.psn_no, _items(b.items), b.uploaded_at.isoformat(), b.status,
                        b.setl_id))
        case PutSignIn(sign_in=s):
            db.execute("INSERT OR REPLACE INTO sign_ins VALUES (?, ?, ?, ?, ?)",
                       (s.sign_no, s.fixmedins_code, s.opter_no, s.at.isoformat(),
                        None if s.signed_out_at is None else s.signed_out_at.isoformat()))
        case _:
            return False
    return True


def visit_of(row: Sequence[Any]) -> Visit:
    """A visit from its row (the columns of VISIT_COLUMNS)."""
    return Visit(*row[:6], datetime.fromisoformat(row[6]), *row[7:])  # type: ignore[call-arg]


def batch_of(row: Sequence[Any]) -> Batch:
    """A batch from its row (the columns of BATCH_COLUMNS)."""
    mdtrt_id, chrg_bchno, psn_no, items, uploaded_at, status, setl_id = row
    lines = tuple(FeeItem(sn, codg, Decimal(cnt), pric, amount) for sn, codg, cnt, pric, amount in json.loads(items))
    return Batch(mdtrt_id, chrg_bchno, psn_no, lines, datetime.fromisoformat(uploaded_at), status, setl_id)


def sign_in_of(row: Sequence[Any]) -> SignIn:
    """A sign-in from its row (the columns of SIGN_IN_COLUMNS)."""
    number, code, opter_no, at, out = row
    return SignIn(number, code, opter_no, datetime.fromisoformat(at),
                  None if out is None else datetime.fromisoformat(out))


def chains_of(visits: Iterable[Sequence[Any]], batches: Iterable[Sequence[Any]]) -> list[tuple[Visit, list[Batch]]]:
    """Visits (rows) with their batches (rows in rowid order: the order first uploaded)."""
    chains: dict[str, tuple[Visit, list[Batch]]] = {(visit := visit_of(row)).mdtrt_id: (visit, []) for row in visits}
    for row in batches:
        chain = chains.get(row[0])
        if chain is not None:
            chain[1].append(batch_of(row))
    return list(chains.values())


def load(db: sqlite3.Connection, state: State, keep: int | None) -> None:
    """Read the newest ``keep`` (None: all) visits, with their batches, and sign-ins into ``state``'s books; the
    others are counted and left on disk. The next ids follow the highest on disk."""
    limit = -1 if keep is None else keep
    newest = f"SELECT mdtrt_id FROM visits ORDER BY mdtrt_id DESC LIMIT {int(limit)}"
    chains = chains_of(
        db.execute(f"SELECT {VISIT_COLUMNS} FROM visits WHERE mdtrt_id IN ({newest}) ORDER BY mdtrt_id"),
        db.execute(f"SELECT {BATCH_COLUMNS} FROM batches WHERE mdtrt_id IN ({newest}) ORDER BY rowid"))
    count, highest = db.execute("SELECT count(*), max(CAST(substr(mdtrt_id, 7) AS INTEGER)) FROM visits").fetchone()
    state.visits.tally(count - len(chains))
    for visit, batches in chains:
        state.visits.load(visit, batches)
    if highest is not None:
        state.next_visit = max(state.next_visit, highest + 1)
    rows = db.execute(f"SELECT {SIGN_IN_COLUMNS} FROM sign_ins ORDER BY sign_no DESC LIMIT ?", (limit,)).fetchall()
    count, highest = db.execute("SELECT count(*), max(CAST(substr(sign_no, 3) AS INTEGER)) FROM sign_ins").fetchone()
    state.sign_ins.tally(count - len(rows))
    for row in reversed(rows):
        state.sign_ins.load(sign_in_of(row))
    if highest is not None:
        state.next_sign = max(state.next_sign, highest + 1)
