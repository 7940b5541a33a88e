"""The clinic's visits, charge batches and sign-ins in the ledger file: their tables, writes and reads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from switch.core.clinic import Batch, FeeItem, PutBatch, PutSignIn, PutVisit, SignIn, Visit, put_batch
from switch.core.model import Effect, State

__all__ = ["CLINIC_SCHEMA", "CLINIC_TABLES", "load", "write"]

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
            db.execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (b.mdtrt_id, b.chrg_bchno, b.psn_no, _items(b.items), b.uploaded_at.isoformat(), b.status,
                        b.setl_id))
        case PutSignIn(sign_in=s):
            db.execute("INSERT OR REPLACE INTO sign_ins VALUES (?, ?, ?, ?, ?)",
                       (s.sign_no, s.fixmedins_code, s.opter_no, s.at.isoformat(),
                        None if s.signed_out_at is None else s.signed_out_at.isoformat()))
        case _:
            return False
    return True


def load(db: sqlite3.Connection, state: State) -> None:
    """Read the clinic's tables into ``state``."""
    for row in db.execute("SELECT * FROM visits"):
        visit = Visit(*row[:6], datetime.fromisoformat(row[6]), *row[7:])  # type: ignore[call-arg]
        state.visits[visit.mdtrt_id] = visit
        state.next_visit = max(state.next_visit, int(visit.mdtrt_id[6:]) + 1)
    for mdtrt_id, chrg_bchno, psn_no, items, uploaded_at, status, setl_id in db.execute("SELECT * FROM batches"):
        lines = tuple(FeeItem(sn, codg, Decimal(cnt), pric, amount)
                      for sn, codg, cnt, pric, amount in json.loads(items))
        put_batch(state, Batch(mdtrt_id, chrg_bchno, psn_no, lines, datetime.fromisoformat(uploaded_at), status,
                               setl_id))
    for number, code, opter_no, at, out in db.execute("SELECT * FROM sign_ins"):
        state.sign_ins[number] = SignIn(number, code, opter_no, datetime.fromisoformat(at),
                                        None if out is None else datetime.fromisoformat(out))
        state.next_sign = max(state.next_sign, int(number[2:]) + 1)
