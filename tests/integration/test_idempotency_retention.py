"""Idempotency for a stated retention: answers older than it are forgotten in memory and on disk; a settled
msgid never pays twice and stays reversible."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from switch.service import handling
from tests.support.direct import direct_switch
from tests.support.families import ZIBO, pharmacy_input

NOBODY = {"mdtrt_cert_type": "01", "mdtrt_cert_no": "nobody"}


def rows(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM replies").fetchone()[0])


async def test_answers_past_the_retention_are_forgotten_in_memory_and_on_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention 1 h: 100 lookups are kept and replayed; 2 h later memory and the replies table are empty, the
    msgid is a new request, and a restart loads only the answers inside the retention."""
    monkeypatch.setattr(handling, "PRUNE_EVERY", 0.0)  # prune the table at every sweep, not every 10 s
    db = tmp_path / "l.db"
    async with direct_switch(db, retention=timedelta(hours=1)) as sw:
        first = [await sw.pos("T1", "1101", NOBODY, msgid=f"look-{n}") for n in range(100)]
        assert {a["code"] for a in first} == {"PERSON_NOT_FOUND"} and len(sw.switch._replies) == 100
        assert await sw.pos("T1", "1101", NOBODY, msgid="look-7") == first[7]
        sw.clock.advance(timedelta(hours=2))
        await sw.switch.expire_replies()
        assert len(sw.switch._replies) == 0 and rows(db) == 0
        again = await sw.pos("T1", "1101", NOBODY, msgid="look-7")
        assert again["respond_time"] == "2026-11-25T12:00:00.000+08:00" != first[7]["respond_time"]
        for n in range(5):
            await sw.pos("T1", "1101", NOBODY, msgid=f"late-{n}")
        assert len(sw.switch._replies) == 6 and rows(db) == 6
    async with direct_switch(db, sw.clock.now() + timedelta(minutes=59, seconds=59),
                             retention=timedelta(hours=1)) as restarted:
        assert len(restarted.switch._replies) == 6
    async with direct_switch(db, sw.clock.now() + timedelta(hours=1, seconds=1),
                             retention=timedelta(hours=1)) as restarted:
        assert len(restarted.switch._replies) == 0


async def test_a_settled_msgid_past_the_retention_never_pays_twice_and_stays_reversible(tmp_path: Path) -> None:
    """25 h after an 80.00 pooled sale its msgid sent again is DUPLICATE_MSGID (nothing moves); a 2601 of it
    still reverses the sale and refunds the holder."""
    async with direct_switch(tmp_path / "l.db") as sw:
        await sw.admin("admin.load", ZIBO)
        sale = await sw.pos("T1", "2102", pharmacy_input("ZR", "80.00"), msgid="sale-1")
        setl_id = sale["output"]["setlinfo"]["setl_id"]
        assert (sale["code"], (await sw.balances())["ZH"]) == ("OK", "120.00")
        sw.clock.advance(timedelta(hours=25))
        await sw.switch.expire_replies()
        assert sw.switch._replies.get(("pos", "T1", "sale-1")) is None
        again = await sw.pos("T1", "2102", pharmacy_input("ZR", "80.00"), msgid="sale-1")
        assert (again["code"], again["err_msg"]) == (
            "DUPLICATE_MSGID", f"msgid sale-1 already settled {setl_id}; its answer is not replayed here (past "
                               "the idempotency retention, or given by the other door); nothing moved: use a new msgid")
        assert (await sw.balances())["ZH"] == "120.00"
        undo = await sw.pos("T1", "2601", {"psn_no": "ZR", "omsgid": "sale-1", "oinfno": "2102"})
        assert (undo["code"], undo["output"]["reversed"]) == ("OK", True)
        assert undo["output"]["setlinfo"]["setl_id"] == setl_id
        assert (await sw.balances())["ZH"] == "200.00"
        assert (await sw.admin("admin.audit"))["output"]["ok"] is True


async def test_an_indexed_answer_whose_row_was_pruned_is_decided_afresh(tmp_path: Path) -> None:
    """An index entry whose stored answer is gone (pruned while the index kept it) is an expired msgid: the
    request is decided again (no INTERNAL_ERROR), and a settled msgid among them still never pays twice."""
    db = tmp_path / "l.db"
    async with direct_switch(db, retention=timedelta(hours=1)) as sw:
        await sw.admin("admin.load", ZIBO)
        looked = await sw.pos("T1", "1101", NOBODY, msgid="look-1")
        sale = await sw.pos("T1", "2102", pharmacy_input("ZR", "80.00"), msgid="sale-1")
        for key in (("pos", "T1", "look-1"), ("pos", "T1", "sale-1")):
            kept = sw.switch._replies.get(key)
            assert kept is not None
            kept.response = None  # evicted from memory: a replay reads the store
        with sqlite3.connect(db) as con:
            con.execute("DELETE FROM replies WHERE msgid IN ('look-1', 'sale-1')")
        sw.clock.advance(timedelta(minutes=1))
        again = await sw.pos("T1", "1101", NOBODY, msgid="look-1")
        resold = await sw.pos("T1", "2102", pharmacy_input("ZR", "80.00"), msgid="sale-1")
        assert (again["code"], again["respond_time"]) == ("PERSON_NOT_FOUND", "2026-11-25T10:01:00.000+08:00")
        assert again["respond_time"] != looked["respond_time"]
        assert resold["code"] == "DUPLICATE_MSGID" and sale["output"]["setlinfo"]["setl_id"] in resold["err_msg"]
        assert (await sw.balances())["ZH"] == "120.00"


async def test_after_a_reset_and_the_clock_set_back_answers_are_still_forgotten_at_their_time(tmp_path: Path) -> None:
    """A scenario's start (admin.reset, then admin.clock set two days back): the clock's own answer is recorded at
    the later time; a sale's msgid sent again 25 h later must still be past the retention (it was replayed OK)."""
    async with direct_switch(tmp_path / "l.db") as sw:
        sw.clock.advance(timedelta(hours=50))
        await sw.admin("admin.reset")
        start = (sw.clock.now() - timedelta(hours=50)).isoformat()
        assert (await sw.admin("admin.clock", {"set": start}))["code"] == "OK"
        await sw.admin("admin.load", ZIBO)
        sale = await sw.pos("T1", "2102", pharmacy_input("ZR", "80.00"), msgid="sale-1")
        assert (sale["code"], (await sw.balances())["ZH"]) == ("OK", "120.00")
        assert (await sw.admin("admin.clock", {"advance": "25h"}))["code"] == "OK"
        await sw.switch.expire_replies()
        again = await sw.pos("T1", "2102", pharmacy_input("ZR", "80.00"), msgid="sale-1")
        assert again["code"] == "DUPLICATE_MSGID"
        assert (await sw.balances())["ZH"] == "120.00"
