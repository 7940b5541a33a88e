"""The traffic's books: settlements, pooled-spending rows, visits and sign-ins, the newest in memory, the rest on disk.

Strategy: people, bindings and windows are the switch's working set and stay in memory; the
traffic's records grow with every request for the ledger's life. So each book keeps its newest
``limit`` rows in memory and reads older ones back through an archive (the store's durable
rows) when a decision asks for one: a cancel of last week's settlement, a reused msgid, a page of
old spending, a late 2205 or 2207 on last week's visit, a 9002 of yesterday's sign-in. A row
leaves memory only once it is durable: every touch (put, status change, a row read back) takes
the next sequence number, the service says which number a commit made durable (``durable``), and
only rows touched at or before it are dropped. Without an archive (the pure core, its unit tests)
nothing is ever dropped. The figures that used to be counted by walking every settlement
(admin.state's counts, 3201's totals per day) are kept as running sums instead.

A visit leaves and comes back with its charge batches: a visit in memory always has all of its
batches there, so a decision that read the visit (``get``) sees its batches without another read.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from switch.core.clinic import Batch, SignIn, Visit
    from switch.core.model import Record, Settlement

    Chain = tuple[Visit, list[Batch]]  # a visit and its batches, in the order first uploaded

__all__ = ["CHINA", "Archive", "Book", "ClinicArchive", "DayKey", "DayTotals", "RecordBook", "SettlementBook",
           "SignInBook", "VisitBook"]

CHINA = timezone(timedelta(hours=8))
DayKey = tuple[str, str, str, date]  # (fixmedins_code, infno, insutype, China date of setl_time)


class Archive(Protocol):
    """Rows that left memory, read back from durable storage (the store's port; none in the pure core)."""

    def settlement(self, setl_id: str) -> Settlement | None: ...

    def settled_id(self, terminal_id: str, msgid: str) -> str | None: ...

    def records(self, holder: str, below: int, limit: int) -> list[Record]:
        """``holder``'s rows with ``rec_id < below``, newest first, at most ``limit``."""
        ...


class ClinicArchive(Protocol):
    """The clinic's visits (with their batches) and sign-ins that left memory, read back from durable storage."""

    def visit(self, mdtrt_id: str) -> Chain | None:
        """The visit and its batches, in the order first uploaded."""
        ...

    def visits(self, psn_nos: Collection[str] | None) -> list[Chain]:
        """Every visit (of ``psn_nos`` only, when given) with its batches, in any order."""
        ...

    def sign_in(self, sign_no: str) -> SignIn | None: ...


class Book(Protocol):
    """What the service tells every book: which touches a commit made durable."""

    @property
    def seq(self) -> int: ...

    def durable(self, seq: int) -> None: ...


A = TypeVar("A")
V = TypeVar("V")


@dataclass(slots=True)
class DayTotals:
    """What 3201 counts of one institution's settlements in force, per infno, insutype and day."""

    medfee: int = 0
    fund: int = 0
    acct: int = 0  # the patient's own account and the family's pooled part together
    count: int = 0

    def add(self, s: Settlement, sign: int) -> None:
        self.medfee += sign * s.medfee
        self.fund += sign * s.fund
        self.acct += sign * (s.acct + s.mulaid)
        self.count += sign


class _Book(Generic[A]):
    """What every book shares: the archive, the limit, and the sequence of touches against the durable mark."""

    def __init__(self, archive: A | None, limit: int | None) -> None:
        self.archive = archive
        self.limit = limit
        self._seq = 0
        self._durable = 0

    @property
    def seq(self) -> int:
        """The last touch's sequence number: once the commit of everything applied so far is durable,
        ``durable(seq)`` lets what it touched leave memory."""
        return self._seq

    def _room(self, seq: int) -> int | None:
        """Note that everything touched up to ``seq`` is on disk; the limit to drop down to, if any."""
        if seq > self._durable:
            self._durable = seq
        return None if self.archive is None else self.limit


class _KeyedBook(_Book[A], Generic[A, V]):
    """Values by key, the newest touched ``limit`` in memory when archived: the oldest touched leave first."""

    def __init__(self, archive: A | None, limit: int | None) -> None:
        super().__init__(archive, limit)
        self._hot: dict[str, V] = {}
        self._touched: dict[str, int] = {}  # key -> sequence of its last touch, oldest touch first
        self.total = 0  # every one, in memory or not

    def __len__(self) -> int:
        return self.total

    @property
    def in_memory(self) -> int:
        return len(self._hot)

    def get(self, key: str) -> V | None:
        """The value, from memory (the books with an archive read it back too)."""
        return self._hot.get(key)

    def __getitem__(self, key: str) -> V:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def holds(self, key: str) -> bool:
        """Whether ``key`` is in memory now (tests, tools)."""
        return key in self._hot

    def _touch(self, key: str, value: V) -> None:
        self._seq += 1
        self._hot[key] = value
        touched = self._touched
        touched.pop(key, None)  # to the end: the newest touch
        touched[key] = self._seq

    def durable(self, seq: int) -> None:
        """Everything touched up to ``seq`` is on disk: drop the oldest beyond ``limit``."""
        limit = self._room(seq)
        if limit is None:
            return
        touched, hot = self._touched, self._hot
        while len(touched) > limit:
            key, at = next(iter(touched.items()))
            if at > self._durable:
                return
            del touched[key]
            self._left(key, hot.pop(key))

    def _left(self, key: str, value: V) -> None:
        """``key`` left memory: what else indexes it goes with it."""

    def clear(self) -> None:
        """admin.reset: nothing left, in memory or on disk."""
        self._hot.clear()
        self._touched.clear()
        self.total = 0


class SettlementBook(_KeyedBook[Archive, "Settlement"]):
    """Settlements by setl_id and by (terminal, msgid); the newest ``limit`` in memory when archived."""

    def __init__(self, archive: Archive | None = None, limit: int | None = None) -> None:
        super().__init__(archive, limit)
        self._by_msgid: dict[tuple[str, str], str] = {}  # of the settlements in memory
        self.settled = 0  # of them, those still in force
        self.days: dict[DayKey, DayTotals] = {}

    def get(self, setl_id: str) -> Settlement | None:
        s = self._hot.get(setl_id)
        if s is None and self.archive is not None:
            s = self.archive.settlement(setl_id)
            if s is not None:  # a decision may change it: it stays in memory until that is durable
                self._keep(s)
        return s

    def peek(self, setl_id: str) -> Settlement | None:
        """The settlement as memory or disk has it, left where it is (tests, tools): a decision uses ``get``."""
        s = self._hot.get(setl_id)
        if s is None and self.archive is not None:
            s = self.archive.settlement(setl_id)
        return s

    def settled_id(self, terminal_id: str, msgid: str) -> str | None:
        """The setl_id ``terminal_id``'s msgid settled, if it did."""
        setl_id = self._by_msgid.get((terminal_id, msgid))
        if setl_id is None and self.archive is not None and self.total > len(self._hot):
            setl_id = self.archive.settled_id(terminal_id, msgid)
        return setl_id

    def put(self, s: Settlement) -> None:
        """A new settlement (or, on load, one from disk)."""
        self._keep(s)
        self.total += 1
        if s.status == "settled":
            self._count(s, 1)

    def tally(self, s: Settlement) -> None:
        """A settlement from disk counted (its totals, ``len``) but left there (the ledger's load)."""
        self.total += 1
        if s.status == "settled":
            self._count(s, 1)

    def set_status(self, setl_id: str, status: str) -> None:
        s = self[setl_id]
        if s.status == "settled" and status != "settled":
            self._count(s, -1)
        elif s.status != "settled" and status == "settled":
            self._count(s, 1)
        s.status = status
        self._keep(s)

    def values(self) -> Iterator[Settlement]:
        """Every settlement, oldest touched first: only while all of them are in memory (tests, tools)."""
        if self.total != len(self._hot):
            raise RuntimeError(f"{self.total - len(self._hot)} settlements are only on disk")
        return iter(list(self._hot.values()))

    def items(self) -> Iterator[tuple[str, Settlement]]:
        return ((s.setl_id, s) for s in self.values())

    def _left(self, key: str, value: Settlement) -> None:
        self._by_msgid.pop((value.terminal_id, value.msgid), None)

    def clear(self) -> None:
        """admin.reset: nothing left, in memory or on disk."""
        super().clear()
        self._by_msgid.clear()
        self.days.clear()
        self.settled = 0

    def _keep(self, s: Settlement) -> None:
        self._touch(s.setl_id, s)
        self._by_msgid[(s.terminal_id, s.msgid)] = s.setl_id

    def _count(self, s: Settlement, sign: int) -> None:
        self.settled += sign
        key = (s.fixmedins_code, s.infno, s.insutype, s.setl_time.astimezone(CHINA).date())
        totals = self.days.get(key)
        if totals is None:
            totals = self.days[key] = DayTotals()
        totals.add(s, sign)
        if not totals.count:  # nothing of that day in force: its sums are zero too
            del self.days[key]


class RecordBook(_Book[Archive]):
    """Each holder's pooled-spending rows, oldest first; the newest ``limit`` rows in memory when archived.

    Rows are only ever appended, with rising rec_ids, so the rows in memory are exactly those with a
    rec_id of at least ``self.first`` (every holder's list holds the tail of that holder's rows).
    """

    def __init__(self, archive: Archive | None = None, limit: int | None = None) -> None:
        super().__init__(archive, limit)
        self._by_holder: dict[str, list[Record]] = {}
        self._order: list[tuple[int, str]] = []  # (seq, holder) of each row in memory, oldest first
        self._head = 0  # rows of _order before this one have left memory
        self.first = 1  # the lowest rec_id still in memory (every lower one is on disk only)

    def __len__(self) -> int:
        return len(self._order) - self._head

    def append(self, r: Record) -> None:
        self._seq += 1
        self._by_holder.setdefault(r.holder, []).append(r)
        self._order.append((self._seq, r.holder))

    def items(self) -> Iterator[tuple[str, list[Record]]]:
        """Every holder's rows: only while all of them are in memory (tests, tools)."""
        if self.first > 1 and self.archive is not None:
            raise RuntimeError(f"the rows below rec_id {self.first} are only on disk")
        return iter(list(self._by_holder.items()))

    def get(self, holder: str) -> list[Record]:
        """The rows of ``holder`` in memory, oldest first (all of them without an archive)."""
        return self._by_holder.get(holder, [])

    def page(self, holder: str, before: int | None, limit: int) -> tuple[list[Record], bool]:
        """Up to ``limit`` rows of ``holder`` with ``rec_id < before``, newest first, and whether more are older."""
        rows = self._by_holder.get(holder, [])
        end = len(rows) if before is None else bisect.bisect_left(rows, before, key=lambda r: r.rec_id)
        start = max(0, end - limit)
        page = rows[start:end][::-1]
        if start > 0 or self.archive is None or self.first <= 1:
            return page, start > 0
        below = self.first if before is None else min(before, self.first)
        need = limit - len(page)
        older = self.archive.records(holder, below, need + 1)  # one more: is there a next page?
        return page + older[:need], len(older) > need

    def durable(self, seq: int) -> None:
        """Everything appended up to ``seq`` is on disk: drop the oldest rows beyond ``limit``."""
        limit = self._room(seq)
        if limit is None:
            return
        order, by_holder = self._order, self._by_holder
        while len(order) - self._head > limit and order[self._head][0] <= self._durable:
            holder = order[self._head][1]
            self._head += 1
            rows = by_holder[holder]
            self.first = rows.pop(0).rec_id + 1
            if not rows:
                del by_holder[holder]
        if self._head > 4096 and self._head * 2 > len(order):
            del order[:self._head]
            self._head = 0

    def loaded(self, first: int) -> None:
        """Rows below rec_id ``first`` were left on disk when the ledger was loaded."""
        self.first = first

    def clear(self) -> None:
        self._by_holder.clear()
        self._order.clear()
        self._head = 0
        self.first = 1


def _registered(mdtrt_id: str) -> tuple[int, str]:
    """The order visits were registered in: their ids' numbers (a longer id is a later one)."""
    return len(mdtrt_id), mdtrt_id


class VisitBook(_KeyedBook[ClinicArchive, "Visit"]):
    """Visits by mdtrt_id, each with its charge batches; the newest touched ``limit`` in memory when archived.

    A visit is touched when it is registered or changed (2201-2203), when one of its batches is
    uploaded, withdrawn or paid (2204, 2205, 2206/2207), and when it is read back.
    """

    def __init__(self, archive: ClinicArchive | None = None, limit: int | None = None) -> None:
        super().__init__(archive, limit)
        self._batches: dict[str, dict[str, Batch]] = {}  # of the visits in memory: mdtrt_id -> chrg_bchno -> batch

    def get(self, mdtrt_id: str) -> Visit | None:
        """The visit, from memory or read back with its batches (it then stays until a touch after is durable)."""
        visit = self._hot.get(mdtrt_id)
        archive = self.archive
        if visit is None and archive is not None and self.total > len(self._hot):
            chain = archive.visit(mdtrt_id)
            if chain is not None:
                visit = self._keep(*chain)
        return visit

    def batch(self, mdtrt_id: str, chrg_bchno: str) -> Batch | None:
        """Batch ``chrg_bchno`` of visit ``mdtrt_id`` (the visit read back first if it left memory)."""
        if mdtrt_id not in self._hot and self.get(mdtrt_id) is None:
            return None
        return self._batches.get(mdtrt_id, {}).get(chrg_bchno)

    def batches_of(self, mdtrt_id: str) -> Iterable[Batch]:
        """The batches of one visit, in the order they were first uploaded."""
        if mdtrt_id not in self._hot:
            self.get(mdtrt_id)
        return self._batches.get(mdtrt_id, {}).values()

    def peek(self, mdtrt_id: str) -> Chain | None:
        """The visit and its batches as memory or disk has them, left where they are (tests, tools)."""
        visit = self._hot.get(mdtrt_id)
        if visit is not None:
            return visit, list(self._batches.get(mdtrt_id, {}).values())
        return None if self.archive is None else self.archive.visit(mdtrt_id)

    def chains(self, psn_nos: Collection[str] | None = None) -> list[Chain]:
        """Every visit (of ``psn_nos`` only, when given) with its batches, oldest registered first, from memory
        and disk, left where they are (admin.state, tests)."""
        found: dict[str, Chain] = {}
        archive = self.archive
        if archive is not None and self.total > len(self._hot):
            found = {chain[0].mdtrt_id: chain for chain in archive.visits(psn_nos)}
        for mdtrt_id, visit in self._hot.items():  # memory is as new as the disk, or newer
            if psn_nos is None or visit.psn_no in psn_nos:
                found[mdtrt_id] = (visit, list(self._batches.get(mdtrt_id, {}).values()))
        return [found[mdtrt_id] for mdtrt_id in sorted(found, key=_registered)]

    def put(self, visit: Visit) -> None:
        """A new visit (2201), or a change of one a decision read (``get``): one not in memory is new."""
        if visit.mdtrt_id not in self._hot:
            self.total += 1
        self._touch(visit.mdtrt_id, visit)

    def put_batch(self, batch: Batch) -> None:
        """A batch uploaded, withdrawn or paid, under its visit (which it touches)."""
        visit = self.get(batch.mdtrt_id)
        if visit is None:
            raise KeyError(f"batch {batch.chrg_bchno} of visit {batch.mdtrt_id}, which is not registered")
        self._batches.setdefault(batch.mdtrt_id, {})[batch.chrg_bchno] = batch
        self._touch(batch.mdtrt_id, visit)

    def load(self, visit: Visit, batches: Iterable[Batch]) -> None:
        """A visit from disk, with its batches in the order first uploaded (the ledger's load)."""
        self.total += 1
        self._keep(visit, batches)

    def tally(self, count: int) -> None:
        """``count`` visits counted but left on disk (the ledger's load)."""
        self.total += count

    def _keep(self, visit: Visit, batches: Iterable[Batch]) -> Visit:
        kept = {b.chrg_bchno: b for b in batches}
        if kept:
            self._batches[visit.mdtrt_id] = kept
        self._touch(visit.mdtrt_id, visit)
        return visit

    def _left(self, key: str, value: Visit) -> None:
        self._batches.pop(key, None)

    def clear(self) -> None:
        super().clear()
        self._batches.clear()


class SignInBook(_KeyedBook[ClinicArchive, "SignIn"]):
    """Tills' sign-ins by sign_no; the newest touched ``limit`` in memory when archived."""

    def __init__(self, archive: ClinicArchive | None = None, limit: int | None = None) -> None:
        super().__init__(archive, limit)

    def get(self, sign_no: str) -> SignIn | None:
        """The sign-in, from memory or read back (it then stays until a touch after is durable)."""
        found = self._hot.get(sign_no)
        archive = self.archive
        if found is None and archive is not None and self.total > len(self._hot):
            found = archive.sign_in(sign_no)
            if found is not None:
                self._touch(sign_no, found)
        return found

    def peek(self, sign_no: str) -> SignIn | None:
        """The sign-in as memory or disk has it, left where it is (tests, tools)."""
        found = self._hot.get(sign_no)
        return found if found is not None or self.archive is None else self.archive.sign_in(sign_no)

    def put(self, sign_in: SignIn) -> None:
        """A new sign-in (9001), or the sign-out (9002) of one a decision read: one not in memory is new."""
        if sign_in.sign_no not in self._hot:
            self.total += 1
        self._touch(sign_in.sign_no, sign_in)

    def load(self, sign_in: SignIn) -> None:
        """A sign-in from disk (the ledger's load)."""
        self.total += 1
        self._touch(sign_in.sign_no, sign_in)

    def tally(self, count: int) -> None:
        """``count`` sign-ins counted but left on disk (the ledger's load)."""
        self.total += count
