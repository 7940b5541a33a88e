"""The traffic's books: the newest rows in memory, the rest read back through an archive, only once durable.

The archive here is a fake behind the core's own port (``Archive``): a dict of what was "written".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from switch.core.books import CHINA, RecordBook, SettlementBook, SignInBook, VisitBook
from switch.core.clinic import Batch, FeeItem, SignIn, Visit
from switch.core.model import Record, Settlement

T0 = datetime(2026, 12, 2, 23, 30, tzinfo=CHINA)


class FakeArchive:
    """What the store holds: every settlement and row as of the last write (``write``), and the reads made."""

    def __init__(self) -> None:
        self.settlements: dict[str, Settlement] = {}
        self.rows: list[Record] = []
        self.reads = 0

    def write(self, settlements: Sequence[Settlement] = (), records: Sequence[Record] = ()) -> None:
        for s in settlements:
            self.settlements[s.setl_id] = replace(s)  # a copy, as a row on disk is
        self.rows.extend(records)

    def settlement(self, setl_id: str) -> Settlement | None:
        self.reads += 1
        s = self.settlements.get(setl_id)
        return None if s is None else replace(s)

    def settled_id(self, terminal_id: str, msgid: str) -> str | None:
        self.reads += 1
        return next((s.setl_id for s in self.settlements.values()
                     if (s.terminal_id, s.msgid) == (terminal_id, msgid)), None)

    def records(self, holder: str, below: int, limit: int) -> list[Record]:
        self.reads += 1
        return sorted((r for r in self.rows if r.holder == holder and r.rec_id < below),
                      key=lambda r: -r.rec_id)[:limit]


def settlement(n: int, medfee: int = 1000, acct: int = 600, mulaid: int = 400, at: datetime = T0,
               insutype: str = "310", infno: str = "2102") -> Settlement:
    return Settlement(f"SETL{n:010d}", infno, "T1", f"m{n}", "F1", f"P{n % 3}", "某", insutype, at,
                      medfee, 0, acct, mulaid, medfee - acct - mulaid, 0, "H1" if mulaid else None)


def test_a_settlement_leaves_memory_only_once_its_touch_is_durable() -> None:
    archive = FakeArchive()
    book = SettlementBook(archive, limit=2)
    made = [settlement(n) for n in range(1, 6)]
    for s in made:
        book.put(s)
    assert book.in_memory == 5 and len(book) == 5  # nothing is durable yet: everything stays
    archive.write(settlements=made[:1])
    book.durable(1)  # only the first is on disk
    assert book.in_memory == 4  # the others are not: memory holds them over the limit
    assert book.get("SETL0000000003") is made[2] and archive.reads == 0
    archive.write(settlements=made[1:])
    book.durable(book.seq)
    assert book.in_memory == 2 and len(book) == 5
    old = book.get("SETL0000000001")  # read back: a decision may change it, so it stays until durable again
    assert old is not None and old == made[0] and old is not made[0] and archive.reads == 1
    assert book.in_memory == 3 and book.get("SETL0000000001") is old and archive.reads == 1
    assert book.settled_id("T1", "m2") == "SETL0000000002" and archive.reads == 2  # by msgid, from disk
    assert book.settled_id("T1", "m1") == "SETL0000000001" and archive.reads == 2  # in memory again
    assert book.get("SETL0000000099") is None and book.peek("SETL0000000002") is not None
    assert book.in_memory == 3  # peek leaves it where it is


def test_a_status_changed_on_a_row_read_back_is_the_one_decisions_see() -> None:
    """Cancel a settlement that left memory: until the change is durable, memory (not the stale disk) answers."""
    archive = FakeArchive()
    book = SettlementBook(archive, limit=1)
    made = [settlement(n) for n in range(1, 4)]
    for s in made:
        book.put(s)
    archive.write(settlements=made)
    book.durable(book.seq)
    book.set_status("SETL0000000001", "cancelled")  # read back, changed; the disk still says settled
    mark = book.seq
    book.put(settlement(4))
    book.put(settlement(5))
    book.durable(mark - 1)  # an older commit: the change is not on disk, so it stays in memory
    seen = book.get("SETL0000000001")
    assert seen is not None and seen.status == "cancelled" and archive.reads == 1


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 50_000), st.sampled_from(["310", "390"]),
                          st.sampled_from(["2102", "2207"]), st.booleans()), max_size=40),
       st.integers(1, 5))
def test_the_day_totals_are_those_of_the_settlements_in_force(made: list[tuple[int, int, str, str, bool]],
                                                              limit: int) -> None:
    """Whatever was put, undone and evicted, each (institution, infno, insutype, China day) sums what is in force."""
    archive = FakeArchive()
    book = SettlementBook(archive, limit)
    everything = []
    for n, (day, fee, insutype, infno, undo) in enumerate(made, 1):
        s = settlement(n, fee, fee // 2, fee // 4, T0 + timedelta(hours=20 * day), insutype, infno)
        book.put(s)
        archive.write(settlements=[s])
        book.durable(book.seq)
        everything.append(s)
        if undo:
            book.set_status(s.setl_id, "reversed")
            archive.write(settlements=[book[s.setl_id]])
            book.durable(book.seq)
            everything[-1] = replace(s, status="reversed")
    expected: dict[tuple[str, str, str, object], tuple[int, int, int, int]] = {}
    for s in everything:
        if s.status == "settled":
            key = (s.fixmedins_code, s.infno, s.insutype, s.setl_time.astimezone(CHINA).date())
            m, f, a, c = expected.get(key, (0, 0, 0, 0))
            expected[key] = (m + s.medfee, f + s.fund, a + s.acct + s.mulaid, c + 1)
    assert {k: (t.medfee, t.fund, t.acct, t.count) for k, t in book.days.items()} == expected
    assert len(book) == len(made) and book.settled == sum(1 for s in everything if s.status == "settled")
    assert book.in_memory <= limit


@given(st.lists(st.sampled_from(["H1", "H2", "H3"]), max_size=30), st.integers(1, 4), st.integers(1, 5),
       st.sampled_from(["H1", "H2", "H3"]))
def test_pages_of_spending_are_the_same_wherever_the_rows_are(holders: list[str], limit: int, page: int,
                                                              who: str) -> None:
    """Walking a holder's pages newest first gives every row once, in order, across memory and disk."""
    archive = FakeArchive()
    book = RecordBook(archive, limit)
    for rec_id, holder in enumerate(holders, 1):
        r = Record(rec_id, holder, f"SETL{rec_id:010d}", "P1", 100 * rec_id, T0, "F1")
        book.append(r)
        archive.write(records=[r])
        book.durable(book.seq)
    assert len(book) <= limit
    walked: list[int] = []
    before = None
    while True:
        rows, more = book.page(who, before, page)
        walked += [r.rec_id for r in rows]
        assert len(rows) <= page
        if not more:
            break
        before = rows[-1].rec_id
    assert walked == [n for n, h in reversed(list(enumerate(holders, 1))) if h == who]


def test_without_an_archive_nothing_leaves_memory() -> None:
    book = SettlementBook(None, limit=1)
    for n in range(1, 4):
        book.put(settlement(n))
    book.durable(book.seq)
    assert book.in_memory == 3 and next(s.setl_id for s in book.values()) == "SETL0000000001"


class FakeClinic:
    """What the store holds of the clinic: each visit with its batches, and each sign-in, as last written."""

    def __init__(self) -> None:
        self.chains: dict[str, tuple[Visit, list[Batch]]] = {}
        self.signed: dict[str, SignIn] = {}
        self.reads = 0

    def write(self, book: VisitBook, *mdtrt_ids: str) -> None:
        for mdtrt_id in mdtrt_ids:
            chain = book.peek(mdtrt_id)
            assert chain is not None
            self.chains[mdtrt_id] = (replace(chain[0]), [replace(b) for b in chain[1]])  # copies, as rows are

    def visit(self, mdtrt_id: str) -> tuple[Visit, list[Batch]] | None:
        self.reads += 1
        chain = self.chains.get(mdtrt_id)
        return None if chain is None else (replace(chain[0]), [replace(b) for b in chain[1]])

    def visits(self, psn_nos: Collection[str] | None) -> list[tuple[Visit, list[Batch]]]:
        self.reads += 1
        return [(replace(v), [replace(b) for b in bs]) for v, bs in reversed(self.chains.values())
                if psn_nos is None or v.psn_no in psn_nos]

    def sign_in(self, sign_no: str) -> SignIn | None:
        self.reads += 1
        found = self.signed.get(sign_no)
        return None if found is None else replace(found)


def visit(n: int, psn_no: str = "P1") -> Visit:
    return Visit(f"MDTRTV{n:09d}", psn_no, "F1", "310", "01", "OP", T0)


def batch(n: int, chrg_bchno: str, fen: int = 100) -> Batch:
    return Batch(f"MDTRTV{n:09d}", chrg_bchno, "P1", (FeeItem("1", "X", Decimal(1), fen, fen),), T0)


def test_a_visit_leaves_memory_with_its_batches_once_durable_and_comes_back_whole() -> None:
    """A visit and its batches go together, only once every touch of them is durable, and come back in upload order;
    the listing of every visit reads the disk for what left memory and leaves it there."""
    archive = FakeClinic()
    book = VisitBook(archive, limit=1)
    book.put(visit(1))
    book.put_batch(batch(1, "B2"))
    book.put_batch(batch(1, "B1"))
    book.put(visit(2, "P2"))
    assert (book.in_memory, len(book)) == (2, 2)  # nothing is durable yet
    archive.write(book, "MDTRTV000000001")
    book.durable(3)  # visit 1's touches are on disk, visit 2's is not
    assert not book.holds("MDTRTV000000001") and book.holds("MDTRTV000000002") and archive.reads == 0
    assert [b.chrg_bchno for b in book.batches_of("MDTRTV000000001")] == ["B2", "B1"] and archive.reads == 1
    withdrawn = book.batch("MDTRTV000000001", "B2")
    assert withdrawn is not None and book.in_memory == 2 and archive.reads == 1  # back whole: no second read
    book.put_batch(replace(withdrawn, status="withdrawn"))
    archive.write(book, "MDTRTV000000002")
    book.durable(book.seq - 1)  # visit 2 may go; visit 1's withdrawal is not on disk: it stays
    assert book.holds("MDTRTV000000001") and not book.holds("MDTRTV000000002")
    listed = book.chains()
    assert [(v.mdtrt_id, [(b.chrg_bchno, b.status) for b in bs]) for v, bs in listed] == [
        ("MDTRTV000000001", [("B2", "withdrawn"), ("B1", "uploaded")]), ("MDTRTV000000002", [])]
    assert [v.mdtrt_id for v, _ in book.chains({"P2"})] == ["MDTRTV000000002"]
    assert book.in_memory == 1 and book.get("MDTRTV000000099") is None


def test_a_sign_in_read_back_is_the_one_a_sign_out_changes() -> None:
    archive = FakeClinic()
    book = SignInBook(archive, limit=1)
    first, second = SignIn("SN0000000001", "F1", "OP", T0), SignIn("SN0000000002", "F1", "OP", T0)
    book.put(first)
    book.put(second)
    archive.signed.update({s.sign_no: s for s in (first, second)})
    book.durable(book.seq)
    assert (book.in_memory, len(book), book.holds("SN0000000002")) == (1, 2, True)
    assert book.peek("SN0000000001") == first and book.in_memory == 1  # peek leaves it on disk
    back = book["SN0000000001"]
    assert back == first and back is not first and book.in_memory == 2
    book.put(replace(back, signed_out_at=T0))
    assert len(book) == 2 and book["SN0000000001"].signed_out_at == T0
