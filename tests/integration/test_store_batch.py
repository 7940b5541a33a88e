"""The SQLite store writes a batch per table, balances summed, and lands where writing in order would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from switch.core.model import (
    Binding,
    Move,
    Person,
    PutBinding,
    PutPerson,
    PutSettlement,
    Reset,
    Settlement,
    UndoSettlement,
    UseCap,
)
from switch.core.policy import packaged_policies
from switch.store.base import Commit, ReplyRow
from switch.store.sqlite import SqliteStore
from tests.unit.core_helpers import T0


def _person(psn_no: str, insutype: str = "310") -> Person:
    return Person(psn_no, f"测试{psn_no}", insutype, "370300", "active", {"01": f"QR{psn_no}"})


def _settlement(setl_id: str, psn_no: str, fen: int, holder: str | None = None) -> Settlement:
    acct, mulaid = (0, fen) if holder else (fen, 0)
    return Settlement(setl_id, "2102", "T1", f"M-{setl_id}", "P1", psn_no, "测试", "310", T0, fen, 0, acct,
                      mulaid, 0, 0, holder)


def _reply(msgid: str) -> ReplyRow:
    return ReplyRow("pos", "T1", msgid, "2102", "fp", "OK", None, b"{}", "2026-11-25T10:00:00+08:00")


async def test_one_batch_of_many_requests_lands_like_writing_each_in_order(tmp_path: Path) -> None:
    """A new person funded in the batch that creates them, settlements and a same-batch undo, a binding
    then its cap use, replies: balances, statuses, usage and ledger rows are exact, and the audit is clean."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    batch = [
        Commit((PutPerson(_person("H")), Move("@load", "H", 50_000, "load", "H", T0),
                PutPerson(_person("R", "390")), PutBinding(Binding("H", "R", "child", 10_000, 0, T0))), None),
        Commit((PutSettlement(_settlement("SETL0000000001", "H", 1_234)),
                Move("H", "@paid", 1_234, "acct_pay", "SETL0000000001", T0)), _reply("a")),
        Commit((PutSettlement(_settlement("SETL0000000002", "R", 3_000, "H")),
                Move("H", "@paid", 3_000, "acct_mulaid_pay", "SETL0000000002", T0), UseCap("R", "H", 3_000)),
               _reply("b")),
        Commit((UndoSettlement("SETL0000000001", "reversed"),
                Move("@paid", "H", 1_234, "reversed:acct_pay", "SETL0000000001", T0)), _reply("c")),
    ]
    await store.commit(batch)
    state, replies = await store.load(packaged_policies())
    assert state.people["H"].balc == 47_000 and state.people["R"].balc == 0
    assert state.externals == {"@load": -50_000, "@credit": 0, "@paid": 3_000, "@premium": 0}
    assert state.binding_of["R"].used == 3_000
    assert {s.setl_id: s.status for s in state.settlements.values()} == {"SETL0000000001": "reversed",
                                                                         "SETL0000000002": "settled"}
    assert sorted(r.msgid for r in replies) == ["a", "b", "c"]
    assert await store.audit() == []
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        rows = db.execute("SELECT count(*), sum(fen) FROM ledger").fetchone()
    assert rows == (4, 50_000 + 1_234 + 3_000 + 1_234)
    await store.close()


async def test_a_reset_inside_a_batch_is_a_barrier(tmp_path: Path) -> None:
    """What comes before a reset in the same batch is wiped with everything else; what comes after stays."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    await store.commit([
        Commit((PutPerson(_person("A")), Move("@load", "A", 500, "load", "A", T0)), _reply("before")),
        Commit((Move("A", "@paid", 100, "acct_pay", "X", T0),), None),
        Commit((Reset(),), None),
        Commit((PutPerson(_person("B")), Move("@load", "B", 300, "load", "B", T0)), _reply("after")),
    ])
    state, replies = await store.load(packaged_policies())
    assert set(state.people) == {"B"} and state.people["B"].balc == 300
    assert state.externals["@load"] == -300 and state.externals["@paid"] == 0
    assert [r.msgid for r in replies] == ["after"]
    assert await store.audit() == []
    await store.close()


async def test_a_batch_of_hundreds_of_rows_in_multi_row_statements_lands_like_writing_each(tmp_path: Path) -> None:
    """701 people loaded and re-loaded (upsert), 1,402 moves, 701 replies with one msgid twice: every balance
    exact, the second loading's names kept, the later reply of a repeated key kept, the audit clean."""
    store = SqliteStore(tmp_path / "ledger.db")
    await store.open()
    people = [f"P{i:04d}" for i in range(701)]
    batch = [Commit((PutPerson(_person(p)), Move("@load", p, 1_000 + i, "load", p, T0)), None)
             for i, p in enumerate(people)]
    renamed = [Person(p, f"改名{p}", "310", "370300", "active", {"01": f"QR{p}"}) for p in people]
    batch += [Commit((PutPerson(person), Move(person.psn_no, "@paid", 7, "acct_pay", f"S{i}", T0)), _reply(f"m{i}"))
              for i, person in enumerate(renamed)]
    batch.append(Commit((), ReplyRow("pos", "T1", "m5", "2102", "fp2", "OK", None, b"{}", "2026-11-25T10:00:01+08:00")))
    await store.commit(batch)
    state, replies = await store.load(packaged_policies())
    assert [(p, state.people[p].balc, state.people[p].psn_name) for p in ("P0000", "P0700")] == [
        ("P0000", 993, "改名P0000"), ("P0700", 1_693, "改名P0700")]
    assert sum(person.balc for person in state.people.values()) == sum(1_000 + i - 7 for i in range(701))
    assert state.externals["@paid"] == 7 * 701
    assert len(replies) == 701 and next(r for r in replies if r.msgid == "m5").fingerprint == "fp2"
    assert await store.audit() == []
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        assert db.execute("SELECT count(*) FROM ledger").fetchone() == (1_402,)
    await store.close()
