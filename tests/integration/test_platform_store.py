"""The store keeps what the platform's answers need: loaded gend/brdy, a settlement's med_type and cert type."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from switch.core.model import Person, PutPerson, PutSettlement, Settlement
from switch.core.policy import packaged_policies
from switch.store.base import Commit
from switch.store.sqlite import SqliteStore
from tests.unit.core_helpers import T0

# The people and settlements tables as a ledger written before the platform's fields had them.
OLD_TABLES = """
CREATE TABLE people (
    psn_no TEXT PRIMARY KEY, psn_name TEXT NOT NULL, insutype TEXT NOT NULL, admdvs TEXT NOT NULL,
    status TEXT NOT NULL, certs TEXT NOT NULL, balc INTEGER NOT NULL DEFAULT 0);
CREATE TABLE settlements (
    setl_id TEXT PRIMARY KEY, infno TEXT NOT NULL, terminal_id TEXT NOT NULL, msgid TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, psn_no TEXT NOT NULL, psn_name TEXT NOT NULL, insutype TEXT NOT NULL,
    setl_time TEXT NOT NULL, medfee INTEGER NOT NULL, fund INTEGER NOT NULL, acct INTEGER NOT NULL,
    mulaid INTEGER NOT NULL, cash INTEGER NOT NULL, balc INTEGER NOT NULL, holder TEXT,
    status TEXT NOT NULL);
INSERT INTO people VALUES ('OLD', '旧', '390', '370500', 'active', '{"02": "370502201001010022"}', 0);
INSERT INTO settlements VALUES ('SETL0000000001', '2102', 'T1', 'M-0', 'P1', 'OLD', '旧', '390',
    '2026-11-25T10:00:00+08:00', 8000, 0, 0, 0, 8000, 0, NULL, 'settled');
"""


async def test_loaded_identity_and_settled_types_survive_a_restart(tmp_path: Path) -> None:
    """gend/brdy of admin.load and a settlement's med_type/mdtrt_cert_type read back after reopening."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    settlement = Settlement("SETL0000000001", "2207", "T1", "M-1", "P1", "R", "测试", "390", T0, 10_000, 4_000,
                            0, 0, 6_000, 0, None, "settled", "14", "03")
    await store.commit([Commit((PutPerson(Person("R", "测试", "390", "370500", "active", {}, 0, "2", "2010-02-03")),
                                PutSettlement(settlement)), None)])
    await store.close()
    await store.open()
    state, _ = await store.load(packaged_policies())
    await store.close()
    person = state.people["R"]
    assert (person.gend, person.brdy) == ("2", "2010-02-03")
    assert state.settlements["SETL0000000001"] == settlement


async def test_a_ledger_from_before_gains_the_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    """Opening a ledger without the new columns adds them (null) and loads its people and settlements."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_TABLES)
    store = SqliteStore(path)
    await store.open()
    state, _ = await store.load(packaged_policies())
    await store.commit([Commit((PutPerson(Person("NEW", "新", "390", "370500", "active", {}, 0, "1", None)),), None)])
    await store.close()
    old, settled = state.people["OLD"], state.settlements["SETL0000000001"]
    assert (old.gend, old.brdy, old.certs) == (None, None, {"02": "370502201001010022"})
    assert (settled.medfee, settled.cash, settled.status, settled.med_type, settled.mdtrt_cert_type) == (
        8000, 8000, "settled", None, None)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT gend FROM people WHERE psn_no = 'NEW'").fetchone() == ("1",)
