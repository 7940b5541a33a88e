"""The traffic's books: settlements and pooled-spending rows, the newest in memory, the rest on disk.

Strategy: people, bindings and windows are the switch's working set and stay in memory; the
traffic's records grow with every request for the ledger's life. So each book keeps its newest
``limit`` rows in memory and reads older ones back through an ``Archive`` (the store's durable
rows) when a decision asks for one: a cancel of last week's settlement, a reused msgid, a page of
old spending. A row leaves memory only once it is durable: every touch (put, status change, a row
read back) takes the next sequence number, the service says which number a commit made durable
(``durable``), and only rows touched at or before it are dropped. Without an archive (the pure
core, its unit tests) nothing is ever dropped. The figures that used to be counted by walking
every settlement (admin.state's counts, 3201's totals per day) are kept as running sums instead.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from switch.core.model import Record, Settlement

__all__ = ["CHINA", "Archive", "DayKey", "DayTotals", "RecordBook", "SettlementBook"]

CHINA = timezone(timedelta(hours=8))
DayKey = tuple[str, str, str, date]  # (fixmedins_code, infno, insutype, China date of setl_time)


class Archive(Protocol):
    """Rows that left memory, read back from durable storage (the store's port; none in the pure core)."""

    def settlement(self, setl_id: str) -> Settlement | None: ...

    def settled_id(self, terminal_id: str, msgid: str) -> str | None: ...

    def records(self, holder: str, below: int, limit: int) -> list[Record]:
        """``holder``'s rows with ``rec_id < below``, newest first, at most ``limit``."""
        ...


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

    def __getitem__(self, setl_id: str) -> Settlement:
        s = self.get(setl_id)
        if s is None:
            raise KeyError(setl_id)
        return s

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
