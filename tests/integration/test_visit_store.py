"""Visits, charge batches and sign-ins are in the ledger file: a restart keeps them, and a paid batch stays paid."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from switch.store.schema import SCHEMA_VERSION
from tests.support.clinic import fee_line, register_input, settle_input
from tests.support.direct import direct_switch
from tests.support.families import ZIBO


async def test_a_restart_keeps_the_visit_its_batch_and_the_sign_in(tmp_path: Path) -> None:
    """After a restart the settled batch is still VISIT_SETTLED, the sign_no still ends once, new ids continue.

    Each run is another till of the same institution: visits are the institution's, msgids the till's."""
    db = tmp_path / "ledger.db"
    async with direct_switch(db) as d:
        await d.admin("admin.load", ZIBO)
        sign = await d.pos("T1", "9001", {"signIn": {"opter_no": "OP1"}})
        mdtrt_id = (await d.pos("T1", "2201", register_input("ZR")))["output"]["data"]["mdtrt_id"]
        up = await d.pos("T1", "2204", {"feedetail": [fee_line("1", mdtrt_id, "ZR", "B1", "2", "25.00")]})
        assert up["code"] == "OK"
        settled = await d.pos("T1", "2207", settle_input("ZR", "50.00", mdtrt_id, "B1"))
        assert (settled["code"], settled["output"]["setlinfo"]["mdtrt_id"]) == ("OK", mdtrt_id)
    async with direct_switch(db) as d:
        again = await d.pos("T2", "2207", settle_input("ZR", "50.00", mdtrt_id, "B1"))
        assert again["code"] == "VISIT_SETTLED"
        state = (await d.admin("admin.state"))["output"]
        assert state["visits"][0]["mdtrt_id"] == mdtrt_id
        assert [(b["chrg_bchno"], b["total"], b["status"]) for b in state["batches"]] == [("B1", "50.00", "settled")]
        setl_id = settled["output"]["setlinfo"]["setl_id"]
        cancel = await d.pos("T2", "2208", {"data": {"setl_id": setl_id, "psn_no": "ZR"}})
        assert cancel["output"]["setlinfo"]["mdtrt_id"] == mdtrt_id  # the visit's id, read back from the file
        sign_no = sign["output"]["signinoutb"]["sign_no"]
        assert (await d.pos("T2", "9002", {"signOut": {"sign_no": sign_no}}))["code"] == "OK"
        second = await d.pos("T2", "2201", register_input("ZR"))
        assert second["output"]["data"]["mdtrt_id"] == "MDTRTV000000002"
    async with direct_switch(db) as d:
        state = (await d.admin("admin.state", msgid="state-3"))["output"]
        assert [b["status"] for b in state["batches"]] == ["uploaded"]  # freed by the cancel
        assert (await d.pos("T3", "9002", {"signOut": {"sign_no": sign_no}}))["code"] == "INVALID_REQUEST"


async def test_a_version_3_ledger_migrates_to_4_and_its_settlements_keep_derived_visits(tmp_path: Path) -> None:
    """A schema-3 file gains the clinic's tables and settlements.mdtrt_id (null): its 2207 cancels as MDTRT+digits."""
    db = tmp_path / "v3.db"
    async with direct_switch(db) as d:
        await d.admin("admin.load", ZIBO)
        assert (await d.pos("T1", "2207", settle_input("ZR", "10.00")))["code"] == "OK"
    with sqlite3.connect(db) as raw:
        raw.executescript("ALTER TABLE settlements DROP COLUMN mdtrt_id; DROP TABLE visits; DROP TABLE batches; "
                          "DROP TABLE sign_ins; UPDATE meta SET value = '3' WHERE key = 'schema_version';")
    async with direct_switch(db) as d:
        cancel = await d.pos("T2", "2208", {"data": {"setl_id": "SETL0000000001", "psn_no": "ZR"}})
        assert (cancel["code"], cancel["output"]["setlinfo"]["mdtrt_id"]) == ("OK", "MDTRT0000000001")
        assert (await d.pos("T2", "2201", register_input("ZR")))["output"]["data"]["mdtrt_id"] == "MDTRTV000000001"
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert raw.execute("SELECT mdtrt_id FROM settlements").fetchall() == [(None,)]
