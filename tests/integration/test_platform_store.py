"""The store keeps what the platform's answers need: loaded gend/brdy, a settlement's med_type and cert type."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from switch.core.model import Person, PutPerson, PutSettlement, Settlement
from switch.core.policy import packaged_policies
from switch.store.base import Commit
from switch.store.sqlite import SqliteStore
from tests.unit.core_helpers import T0

# What schema version 2 lacked: opening such a ledger migrates it to version 3.
DROP_TO_VERSION_2 = """
ALTER TABLE people DROP COLUMN gend;
ALTER TABLE people DROP COLUMN brdy;
ALTER TABLE settlements DROP COLUMN med_type;
ALTER TABLE settlements DROP COLUMN mdtrt_cert_type;
ALTER TABLE settlements DROP COLUMN mdtrt_id;
DROP TABLE visits;
DROP TABLE batches;
DROP TABLE sign_ins;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


async def _version_2_ledger(path: Path) -> None:
    """A ledger as schema version 2 wrote it: a resident OLD and one cash settlement of hers."""
    store = SqliteStore(path)
    await store.open()
    old = Settlement("SETL0000000001", "2102", "T1", "M-0", "P1", "OLD", "旧", "390", T0, 8000, 0, 0, 0, 8000, 0,
                     None, "settled")
    await store.commit([Commit((PutPerson(Person("OLD", "旧", "390", "370500", "active",
                                                 {"02": "370502201001010022"}, 0)), PutSettlement(old)), None)])
    await store.close()
    with sqlite3.connect(path) as db:
        db.executescript(DROP_TO_VERSION_2)


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
    await _version_2_ledger(path)
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
