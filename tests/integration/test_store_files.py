"""The ledger file itself: binding identity across restarts, migration of version-1 files, refusals."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from switch.core.model import Person, PutPerson
from switch.core.policy import packaged_policies
from switch.store.base import Commit, StoreError, StoreOpenError
from switch.store.schema import SCHEMA_VERSION
from switch.store.sqlite import SqliteStore
from tests.integration.service_helpers import Driver, make_switch
from tests.support.families import ZIBO, person, pharmacy_input

DATA = Path(__file__).resolve().parents[1] / "data"


async def _app(driver: Driver, infno: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await driver.send("app", infno, body, sender="ZH")
    assert answer["code"] == "OK", answer
    return answer


async def test_a_refund_after_a_restart_returns_cap_only_to_its_binding(tmp_path: Path) -> None:
    """Spent under a removed binding, refunded after a restart: the new binding's used stays 50.00."""
    db = tmp_path / "ledger.db"
    switch = make_switch(db)
    await switch.start()
    driver = Driver(switch)
    await driver.admin("admin.load", ZIBO)
    await _app(driver, "app.set_cap", {"relative_psn_no": "ZR", "cap": "100.00"})
    first = await driver.pos("2102", pharmacy_input("ZR", "100.00"))
    await _app(driver, "app.unbind", {"relative_psn_no": "ZR", "face_verified": True})
    await _app(driver, "app.bind", {"relative_psn_no": "ZR", "rltn": "parent", "face_verified": True})
    await _app(driver, "app.set_cap", {"relative_psn_no": "ZR", "cap": "100.00"})
    await driver.pos("2102", pharmacy_input("ZR", "50.00"))
    await switch.stop()
    switch = make_switch(db)
    await switch.start()
    driver = Driver(switch)
    setl_id = first["output"]["setlinfo"]["setl_id"]
    cancelled = await driver.pos("2103", {"setl_id": setl_id, "psn_no": "ZR"})
    assert cancelled["code"] == "OK"
    state = (await driver.admin("admin.state"))["output"]
    assert state["bindings"][0]["used"] == "50.00"
    assert {p["psn_no"]: p["balc"] for p in state["people"]} == {"ZH": "150.00", "ZR": "0.00"}
    assert (await driver.admin("admin.audit"))["output"]["ok"] is True
    await switch.stop()


def _version_1_file(path: Path) -> None:
    """A ledger as version 1 wrote it: ZH binds ZR twice (unbound in between), one settlement under each."""
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "ledger-v1.sql").read_text())
        db.executemany("INSERT INTO externals VALUES (?, ?)",
                       [("@load", -20_000), ("@credit", 0), ("@paid", 8_000), ("@premium", 0)])
        db.executemany("INSERT INTO people VALUES (?, ?, ?, ?, 'active', '{}', ?)",
                       [("ZH", "测试ZH", "310", "370300", 12_000), ("ZR", "测试ZR", "390", "370300", 0)])
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        db.execute("INSERT INTO bindings VALUES ('ZR', 'ZH', 'parent', 10000, 3000, '2026-11-25T11:00:00+08:00')")
        for setl_id, at, fen in (("SETL0000000001", "2026-11-25T10:30:00+08:00", 5_000),
                                 ("SETL0000000002", "2026-11-25T11:30:00+08:00", 3_000)):
            db.execute("INSERT INTO settlements VALUES (?, '2102', 'T1', ?, 'P1', 'ZR', '测试ZR', '390', ?, "
                       "?, 0, 0, ?, 0, 0, 'ZH', 'settled')", (setl_id, setl_id, at, fen, fen))
            db.execute("INSERT INTO ledger (at, debit, credit, fen, kind, ref) VALUES (?, 'ZH', '@paid', ?, "
                       "'acct_mulaid_pay', ?)", (at, fen, setl_id))
        db.execute("INSERT INTO ledger (at, debit, credit, fen, kind, ref) VALUES "
                   "('2026-11-25T10:00:00+08:00', '@load', 'ZH', 20000, 'load', 'ZH')")
        db.executemany("INSERT INTO replies VALUES ('pos', 'T1', ?, '2102', 'f', 'OK', ?, ?, ?)",
                       [(setl_id, setl_id, f'{{"answer": "{setl_id}"}}'.encode(), at)
                        for setl_id, at in (("SETL0000000002", "2026-11-25T11:30:00+08:00"),
                                            ("SETL0000000001", "2026-11-25T10:30:00+08:00"))])


async def test_a_version_1_file_is_migrated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Version 1 gains binding ids: the settlement before the rebinding refunds no cap, the one after does."""
    db = tmp_path / "ledger.db"
    _version_1_file(db)
    store = SqliteStore(db)
    with caplog.at_level("INFO", logger="gongji.store"):
        await store.open()
    assert [r.getMessage() for r in caplog.records if r.name == "gongji.store"] == [
        f"migrating the ledger from schema version 1 to {SCHEMA_VERSION} (copying 2 remembered answers)"]
    state, _ = await store.load(packaged_policies())
    assert [(s.setl_id, s.binding_id) for s in state.settlements.values()] == [
        ("SETL0000000001", None), ("SETL0000000002", state.binding_of["ZR"].bid)]
    assert state.binding_of["ZR"].bid >= 1 and state.next_binding == state.binding_of["ZR"].bid + 1
    assert await store.audit() == []
    # Version 5: the remembered answers, oldest first, in a rowid table with a unique key; still replayed.
    assert await store.reply_bytes("pos", "T1", "SETL0000000001") == b'{"answer": "SETL0000000001"}'
    await store.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert raw.execute("SELECT rowid, msgid FROM replies ORDER BY rowid").fetchall() == [
            (1, "SETL0000000001"), (2, "SETL0000000002")]
        assert "WITHOUT ROWID" not in raw.execute("SELECT sql FROM sqlite_master WHERE name = 'replies'").fetchone()[0]
        assert {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE tbl_name LIKE 'replies%'")} == {
            "replies", "replies_key", "replies_at"}
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            raw.execute("INSERT INTO replies VALUES ('pos', 'T1', 'SETL0000000001', '2102', 'f', 'OK', NULL, x'', 'x')")


def _people(first: int, n: int) -> Commit:
    return Commit(tuple(PutPerson(Person(f"P{i:06d}", "测试" * 20, "310", "370500", "active", {"01": f"QR{i}" * 8}))
                        for i in range(first, first + n)), None)


async def test_a_full_disk_is_named_not_hidden_behind_the_rollback(tmp_path: Path) -> None:
    """SQLITE_FULL mid-commit raises StoreError naming it (not "cannot rollback"); what was committed stays."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    await store.commit([_people(0, 10)])
    (pages,) = next(iter(await store.db.execute_fetchall("PRAGMA page_count")))
    # The file may grow by two pages: "disk full" (set on the writer's connection, which does the writing).
    await store.writer.run([(f"PRAGMA max_page_count = {pages + 2}", [()])])
    with pytest.raises(StoreError) as full:
        await store.commit([_people(10, 2_000)])
    assert "SQLITE_FULL" in str(full.value) and "disk is full" in str(full.value)
    assert "rollback" not in str(full.value)
    state, _ = await store.load(packaged_policies())
    assert len(state.people) == 10
    await store.close()


def _foreign_file(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO people (name) VALUES ('someone else''s data')")


def _newer_file(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION + 1),))


@pytest.mark.parametrize(("make", "says"), [
    (_foreign_file, "SQLite database of another program (tables: orders, people)"),
    (_newer_file, f"schema version {SCHEMA_VERSION + 1}, newer than this switch's {SCHEMA_VERSION}"),
])
async def test_a_foreign_or_newer_file_is_refused_untouched(tmp_path: Path, make: Any, says: str) -> None:
    """Another program's SQLite file, or a newer ledger, is refused and left byte for byte as it was, no lock file."""
    db = tmp_path / "other.db"
    make(db)
    before = db.read_bytes()
    store = SqliteStore(db)
    with pytest.raises(StoreOpenError, match=re.escape(says)):
        await store.open()
    await store.close()
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


async def test_an_invitation_survives_a_restart(tmp_path: Path) -> None:
    """Under binding_consent an invitation is on disk: after a restart the relative accepts it and is bound."""
    db = tmp_path / "ledger.db"
    switch = make_switch(db)
    await switch.start()
    driver = Driver(switch)
    await driver.admin("admin.load", {"people": ZIBO["people"]})
    await driver.admin("admin.policy", {"set": {"name": "zibo-consent", "admdvs": ["370300"], "flow": "automatic",
                                                "binding_consent": True}})
    pending = await _app(driver, "app.bind", {"relative_psn_no": "ZR", "rltn": "parent", "face_verified": True})
    assert pending["output"]["pending"] is True
    await switch.stop()
    switch = make_switch(db)
    await switch.start()
    driver = Driver(switch)
    accepted = await driver.send("app", "app.accept", {"holder_psn_no": "ZH", "face_verified": True}, sender="ZR")
    assert (accepted["code"], accepted["output"]["created"]) == ("OK", True)
    state = (await driver.admin("admin.state"))["output"]
    assert [(b["holder_psn_no"], b["relative_psn_no"]) for b in state["bindings"]] == [("ZH", "ZR")]
    await switch.stop()


async def test_pending_invitations_are_found_after_a_restart_and_a_withdrawal_is_announced(tmp_path: Path) -> None:
    """Two holders invite ZR, whose app is offline (the binding.requested events are gone): after a restart her
    app.bindings lists both, each holder's lists the one it sent, admin.state lists them; accepting ZH tells ZS."""
    db = tmp_path / "ledger.db"
    switch = make_switch(db)
    await switch.start()
    try:
        driver = Driver(switch)
        await driver.admin("admin.load", {"people": [*ZIBO["people"], person("ZS", "370300", "50.00")]})
        await driver.admin("admin.policy", {"set": {"name": "zibo-consent", "admdvs": ["370300"],
                                                    "flow": "automatic", "binding_consent": True}})
        await _app(driver, "app.bind", {"relative_psn_no": "ZR", "rltn": "parent", "face_verified": True})
        invited = await driver.send("app", "app.bind", {"relative_psn_no": "ZR", "rltn": "child",
                                                        "face_verified": True}, sender="ZS")
        assert invited["output"]["pending"] is True
    finally:
        await switch.stop()
    switch = make_switch(db)
    await switch.start()
    try:
        driver = Driver(switch)
        mine = (await driver.send("app", "app.bindings", {}, sender="ZR"))["output"]
        assert [(i["holder_psn_no"], i["rltn"], i["requested_at"]) for i in mine.get("invitations", [])] == [
            ("ZH", "parent", "2026-11-25T10:00:00.000+08:00"), ("ZS", "child", "2026-11-25T10:00:00.000+08:00")]
        sent = (await driver.send("app", "app.bindings", {}, sender="ZS"))["output"]
        assert [(i["relative_psn_no"], i["rltn"]) for i in sent["invitations_sent"]] == [("ZR", "child")]
        state = (await driver.admin("admin.state", {"psn_no": "ZR"}))["output"]
        assert [(i["holder_psn_no"], i["relative_psn_no"]) for i in state["invitations"]] == [
            ("ZH", "ZR"), ("ZS", "ZR")]
        body = {"infno": "app.accept", "msgid": "ZR-1", "input": {"holder_psn_no": "ZH", "face_verified": True}}
        reply = await switch.handle("app", "ZR", json.dumps(body).encode())
        events = [json.loads(e) for e in reply.events]
        assert [(e["type"], e["data"]["holder_psn_no"], e["data"].get("reason")) for e in events] == [
            ("binding.created", "ZH", None), ("binding.declined", "ZS", "bound_elsewhere")]
        assert (await driver.admin("admin.state"))["output"]["invitations"] == []
        assert (await driver.send("app", "app.bindings", {}, sender="ZS"))["output"]["invitations_sent"] == []
    finally:
        await switch.stop()
