"""SQLite backend of the store: WAL, synchronous=FULL, a double-entry ledger, one transaction per batch.

Strategy: a whole batch of commits is recorded as statements and run by the ledger writer, a
process of its own (``writer.py``), in one transaction: no statement waits for the GIL of the
interpreter that answers. Either every request of the batch is on disk or none is; answers are
sent only after this returns. Reads (the load at start, journal pages, audits) stay on aiosqlite's
thread: WAL lets them read beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from switch.core.books import RecordBook, SettlementBook, SignInBook, VisitBook
from switch.core.model import (
    EXTERNAL_ACCOUNTS,
    Binding,
    CloseWindow,
    DeleteBinding,
    DeleteInvite,
    Effect,
    Invite,
    Move,
    OpenWindow,
    Person,
    PutBinding,
    PutInvite,
    PutPerson,
    PutPolicy,
    PutPremium,
    PutRecord,
    PutSettlement,
    PutTombstone,
    Reset,
    State,
    UndoSettlement,
    UseCap,
    Window,
)
from switch.core.policy import Policy, PolicyBook
from switch.journal import table as journal_sql
from switch.journal.hints import Heard, Journal
from switch.store import clinic_sql
from switch.store.archive import KEEP, SETTLEMENT_COLUMNS, LedgerArchive, record_of, settlement_of
from switch.store.audit import audit_ledger
from switch.store.base import Commit, ReplyRow, StoreError, StoreOpenError
from switch.store.lock import LedgerLock
from switch.store.schema import SCHEMA_VERSION, TABLES, check_file, create_or_migrate, describe, read_version
from switch.store.writer import Ops, WriterProcess

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

T = TypeVar("T")


def _ts(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


_ADD_EXTERNAL = "UPDATE externals SET balc = balc + ? WHERE account = ?"
_ADD_PERSON = "UPDATE people SET balc = balc + ? WHERE psn_no = ?"
_PUT_SETTLEMENT = f"INSERT INTO settlements ({SETTLEMENT_COLUMNS}) VALUES ({', '.join('?' * 21)})"
_PUT_REPLY = "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_TABLE = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+(\w+)")


def _add(db: _Db, account: str, fen: int) -> None:
    if account.startswith("@"):
        db.execute(_ADD_EXTERNAL, (fen, account))
    else:
        db.execute(_ADD_PERSON, (fen, account))


class _Batch:
    """The statements of one batch, gathered per table and written as few ``executemany`` as possible.

    Strategy: the tables have no triggers or foreign keys, so statements on different tables
    commute and only the order within a table matters: each table keeps its statements in order,
    and a run of the same statement becomes one ``executemany``. Balance changes (``balc + ?``)
    commute with every other write except a reset, so they are summed per account and written
    last: a batch of settlements updates ``@paid`` once, not once per settlement. A reset is a
    barrier: everything before it is written first.
    """

    def __init__(self) -> None:
        self.runs: dict[str, list[tuple[str, list[Sequence[Any]]]]] = {}
        self.balances: dict[tuple[str, str], int] = {}
        self.tables: dict[str, str] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if sql is _ADD_PERSON or sql is _ADD_EXTERNAL:
            key = (sql, params[1])
            self.balances[key] = self.balances.get(key, 0) + params[0]
            return
        table = self.tables.get(sql)
        if table is None:
            match = _TABLE.search(sql)
            table = self.tables[sql] = match.group(1) if match else sql
        runs = self.runs.setdefault(table, [])
        if runs and runs[-1][0] == sql:
            runs[-1][1].append(params)
        else:
            runs.append((sql, [params]))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        for params in rows:
            self.execute(sql, params)

    def flush(self, db: sqlite3.Connection | Ops) -> None:
        for runs in self.runs.values():
            for sql, rows in runs:
                db.executemany(sql, rows)
        for sql in (_ADD_PERSON, _ADD_EXTERNAL):  # one call each: every call hands the GIL back and forth
            rows = [(fen, account) for (kind, account), fen in self.balances.items() if kind is sql and fen]
            if rows:
                db.executemany(sql, rows)
        self.runs.clear()
        self.balances.clear()


_Db = sqlite3.Connection | _Batch | Ops


def _write(db: _Db, effect: Effect) -> None:
    match effect:
        case Move(debit=debit, credit=credit, fen=fen, kind=kind, ref=ref, at=at):
            db.execute("INSERT INTO ledger (at, debit, credit, fen, kind, ref) VALUES (?, ?, ?, ?, ?, ?)",
                       (_ts(at), debit, credit, fen, kind, ref))
            _add(db, debit, -fen)
            _add(db, credit, fen)
        case PutPerson(person=p):
            db.execute(
                "INSERT INTO people (psn_no, psn_name, insutype, admdvs, status, certs, gend, brdy) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (psn_no) DO UPDATE SET psn_name = excluded.psn_name, insutype = excluded.insutype, "
                "admdvs = excluded.admdvs, status = excluded.status, certs = excluded.certs, "
                "gend = excluded.gend, brdy = excluded.brdy",
                (p.psn_no, p.psn_name, p.insutype, p.admdvs, p.status, json.dumps(p.certs), p.gend, p.brdy))
        case PutBinding(binding=b):
            db.execute("INSERT OR REPLACE INTO bindings VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (b.relative, b.holder, b.rltn, b.cap, b.used, _ts(b.created_at), b.bid))
        case DeleteBinding(relative=relative):
            db.execute("DELETE FROM bindings WHERE relative = ?", (relative,))
        case UseCap(relative=relative, holder=holder, delta=delta, bid=bid):
            db.execute("UPDATE bindings SET used = max(0, used + ?) WHERE relative = ? AND holder = ? AND bid = ?",
                       (delta, relative, holder, bid))
        case OpenWindow(window=w):
            db.execute("INSERT OR REPLACE INTO windows VALUES (?, ?, ?, ?, ?)",
                       (w.psn_no, w.fixmedins_code, w.holder, _ts(w.opened_at), _ts(w.expires_at)))
        case CloseWindow(psn_no=psn_no, fixmedins_code=code):
            db.execute("DELETE FROM windows WHERE psn_no = ? AND fixmedins_code = ?", (psn_no, code))
        case PutSettlement(settlement=s):
            db.execute(_PUT_SETTLEMENT,
                       (s.setl_id, s.infno, s.terminal_id, s.msgid, s.fixmedins_code, s.psn_no, s.psn_name,
                        s.insutype, _ts(s.setl_time), s.medfee, s.fund, s.acct, s.mulaid, s.cash, s.balc,
                        s.holder, s.status, s.med_type, s.mdtrt_cert_type, s.binding_id, s.mdtrt_id))
        case UndoSettlement(setl_id=setl_id, status=status):
            db.execute("UPDATE settlements SET status = ? WHERE setl_id = ?", (status, setl_id))
        case PutRecord(record=r):
            db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (r.rec_id, r.holder, r.setl_id, r.psn_no, r.amount, _ts(r.at), r.fixmedins_code))
        case PutTombstone(terminal_id=terminal, omsgid=omsgid, oinfno=oinfno):
            db.execute("INSERT OR REPLACE INTO tombstones VALUES (?, ?, ?)", (terminal, omsgid, oinfno))
        case PutPremium(relative=relative, year=year, holder=holder, amount=amount, at=at):
            db.execute("INSERT INTO premiums VALUES (?, ?, ?, ?, ?)", (relative, year, holder, amount, _ts(at)))
        case PutPolicy(policy=policy):
            db.execute("INSERT OR REPLACE INTO policies VALUES (?, ?)", (policy.name, policy.model_dump_json()))
        case PutInvite(invite=i):
            db.execute("INSERT OR REPLACE INTO invites VALUES (?, ?, ?, ?)", (i.relative, i.holder, i.rltn, _ts(i.at)))
        case DeleteInvite(relative=relative, holder=holder):
            db.execute("DELETE FROM invites WHERE relative = ? AND holder = ?", (relative, holder))
        case Reset():
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")
            db.executemany("INSERT INTO externals VALUES (?, 0)", [(a,) for a in EXTERNAL_ACCOUNTS])
        case _ if clinic_sql.write(db, effect):
            pass
        case _:  # pragma: no cover - a new effect without storage is a programming error
            raise StoreError(f"no storage for effect {effect!r}")


def _prepare(db: sqlite3.Connection) -> None:
    create_or_migrate(db, read_version(db))
    db.executemany("INSERT OR IGNORE INTO externals VALUES (?, 0)", [(a,) for a in EXTERNAL_ACCOUNTS])


def _in_transaction(body: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """``body`` as one immediate transaction: all of it is committed, or none of it."""

    def run(db: sqlite3.Connection) -> T:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = body(db)
            db.execute("COMMIT")
            return result
        except BaseException:
            # SQLite ends the transaction itself on some errors (SQLITE_FULL, SQLITE_IOERR): a ROLLBACK
            # then fails and its "no transaction is active" would hide the cause.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    return run


def _replies(db: sqlite3.Connection, since: str, keep: int | None) -> list[ReplyRow]:
    """The newest ``keep`` (None: all) recorded answers decided at ``since`` or later, oldest first (without their
    bytes); older ones stay on disk, where the index finds them when asked."""
    rows = [ReplyRow(channel, sender, msgid, infno, fp, code, setl_id, b"", at)
            for channel, sender, msgid, infno, fp, code, setl_id, at in db.execute(
                "SELECT channel, sender, msgid, infno, fingerprint, code, setl_id, at FROM replies "
                "WHERE at >= ? ORDER BY rowid DESC LIMIT ?", (since, -1 if keep is None else keep))]
    rows.sort(key=lambda r: r.at)
    return rows


class SqliteStore:
    """The ledger in one SQLite file (and the traffic journal, when given one to write)."""

    def __init__(self, path: Path | str, journal: Journal | None = None, keep: int | None = KEEP) -> None:
        self.path = Path(path)
        self.journal = journal
        self.keep = keep  # the newest traffic kept in memory (None: all of it)
        self.archive: LedgerArchive | None = None
        self._db: aiosqlite.Connection | None = None
        self._lock = LedgerLock(self.path)
        self._created = False  # whether open made the ledger file (close(discard=True) removes only such a file)
        self.writer = WriterProcess(self.path)  # every write transaction once open: see writer_child.py

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    async def _in_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        # aiosqlite runs every call on its own worker thread; _execute is how its own methods
        # submit work there. Using it for a whole batch keeps one thread hop per transaction.
        db = self.db
        result: T = await db._execute(fn, db._conn)  # type: ignore[no-untyped-call]
        return result

    async def open(self) -> None:
        check_file(self.path)  # a foreign, newer or unreadable file is refused before anything is written
        self._lock.acquire()  # a second switch must not even switch the file to WAL
        self._created = not self.path.exists()
        try:
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=FULL")
            await self._in_thread(_in_transaction(_prepare))
            self.archive = LedgerArchive(self.path)
            await self.writer.start(self._lock.fd)
        except (sqlite3.Error, OSError) as exc:
            raise StoreOpenError(f"cannot open ledger {self.path}: {describe(exc)}") from None

    def send(self, batch: Sequence[Commit], answer: Callable[[StoreError | None], None]) -> None:
        """Send a batch to the writer as one transaction; ``answer`` is called with None once it is on disk,
        or with the StoreError that failed it. Raises only if the batch cannot be written at all."""
        # Journal rows ride along in the batch's transaction: no fsync of their own under load.
        heard = self.journal.take() if self.journal is not None else []
        ops, writes = Ops(), _Batch()
        for item in batch:
            for effect in item.effects:
                if isinstance(effect, Reset):
                    writes.flush(ops)
                    _write(ops, effect)
                else:
                    _write(writes, effect)
            r = item.reply
            if r is not None:
                writes.execute(_PUT_REPLY, (r.channel, r.sender, r.msgid, r.infno, r.fingerprint, r.code,
                                            r.setl_id, r.response, r.at))
        writes.flush(ops)

        def written(result: list[int] | StoreError) -> None:
            answer(StoreError(f"commit failed: {result}") if isinstance(result, StoreError) else None)

        self.writer.send(ops.ops, self._journal_rows(heard), written)

    async def commit(self, batch: Sequence[Commit]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def answer(error: StoreError | None) -> None:
            if not done.done():
                done.set_result(None) if error is None else done.set_exception(error)

        self.send(batch, answer)
        await done

    def _journal_rows(self, heard: Sequence[Heard]) -> tuple[str, list[Any]] | None:
        journal = self.journal
        rows = journal_sql.rows_of(heard, journal.payload_limit) if journal is not None and heard else []
        return (journal_sql.INSERT_SQL, rows) if rows else None

    async def _written(self, ops: list[tuple[str, list[Sequence[Any]]]], heard: Sequence[Heard],
                       failed: str) -> list[int]:
        """Run ``ops`` (and journal ``heard``) as one transaction in the writer; a StoreError saying ``failed``."""
        try:
            return await self.writer.run(ops, self._journal_rows(heard))
        except StoreError as exc:
            raise StoreError(f"{failed}: {exc}") from exc

    async def reply_bytes(self, channel: str, sender: str, msgid: str) -> bytes | None:
        rows = await self.db.execute_fetchall(
            "SELECT response FROM replies WHERE channel = ? AND sender = ? AND msgid = ?", (channel, sender, msgid))
        for (response,) in rows:
            return bytes(response)
        return None

    async def load(self, base_policies: Sequence[Policy],
                   replies_since: str | None = "") -> tuple[State, list[ReplyRow]]:
        def run(db: sqlite3.Connection) -> tuple[State, list[ReplyRow]]:
            book = PolicyBook(base_policies)
            for (body,) in db.execute("SELECT body FROM policies"):
                book.put(Policy.model_validate_json(body))
            state = State(policies=book, base_policies=tuple(base_policies))
            for psn_no, name, insutype, admdvs, status, certs, balc, gend, brdy in db.execute(
                    "SELECT psn_no, psn_name, insutype, admdvs, status, certs, balc, gend, brdy FROM people"):
                person = Person(psn_no, name, insutype, admdvs, status, json.loads(certs), balc, gend, brdy)
                state.people[psn_no] = person
                for key in person.certs.items():
                    state.cert_owner[key] = psn_no
            for account, balc in db.execute("SELECT account, balc FROM externals"):
                state.externals[account] = balc
            for relative, holder, rltn, cap, used, created, bid in db.execute("SELECT * FROM bindings"):
                b = Binding(holder, relative, rltn, cap, used, _dt(created), bid)
                state.next_binding = max(state.next_binding, bid + 1)
                state.binding_of[relative] = b
                state.relatives_of.setdefault(holder, {})[relative] = b
            for psn_no, code, holder, opened, expires in db.execute("SELECT * FROM windows"):
                state.windows[(psn_no, code)] = Window(psn_no, code, holder, datetime.fromisoformat(opened),
                                                       datetime.fromisoformat(expires))
            keep, archive = self.keep, self.archive
            state.settlements = SettlementBook(archive, keep)
            state.records = RecordBook(archive, keep)
            state.visits = VisitBook(archive, keep)
            state.sign_ins = SignInBook(archive, keep)
            # Every settlement is read once (its day's totals, the next ids); only the newest stay in memory.
            older = 0 if keep is None else db.execute("SELECT count(*) FROM settlements").fetchone()[0] - keep
            for n, row in enumerate(db.execute(f"SELECT {SETTLEMENT_COLUMNS} FROM settlements ORDER BY rowid")):
                s = settlement_of(row)
                if n < older:
                    state.settlements.tally(s)
                else:
                    state.settlements.put(s)
                state.next_setl = max(state.next_setl, int(s.setl_id[4:]) + 1)
                if s.binding_id is not None:  # a removed binding's bid is never given again
                    state.next_binding = max(state.next_binding, s.binding_id + 1)
            rows = [record_of(row) for row in db.execute(
                "SELECT rec_id, holder, setl_id, psn_no, amount, at, fixmedins_code FROM records "
                "ORDER BY rec_id DESC LIMIT ?", (-1 if keep is None else keep,))]
            for r in reversed(rows):
                state.records.append(r)
            if rows:
                state.records.loaded(rows[-1].rec_id)
                state.next_record = rows[0].rec_id + 1
            for terminal, omsgid, oinfno in db.execute("SELECT * FROM tombstones"):
                state.tombstones[(terminal, omsgid)] = oinfno
            for relative, year, _holder, amount, _at in db.execute("SELECT * FROM premiums"):
                state.premiums[(relative, year)] = amount
            for relative, holder, rltn, at in db.execute("SELECT * FROM invites"):
                state.invites[(relative, holder)] = Invite(holder, relative, rltn, datetime.fromisoformat(at))
            clinic_sql.load(db, state, keep)
            for traffic in state.books():  # all of it is on disk: beyond keep, it may go
                traffic.durable(traffic.seq)
            return state, [] if replies_since is None else _replies(db, replies_since, self.keep)

        return await self._in_thread(run)

    async def prune_replies(self, before: str) -> int:
        """Delete the recorded answers decided before ``before`` (an ISO timestamp); returns how many."""

        return (await self._written([("DELETE FROM replies WHERE at < ?", [(before,)])], (),
                                    "pruning answers failed"))[0]

    async def audit(self, memory: Mapping[str, int] | None = None,
                    pinned: Callable[[], None] | None = None) -> list[str]:
        """Recompute every balance from the ledger and check the books (conservation, no overdraft), and
        compare ``memory``'s balances; ``pinned`` is called on the event loop once the snapshot is fixed.

        It reads on a connection of its own in a thread of its own: its read transaction stays open for
        the whole audit, and the store's own connection must go on seeing every commit meanwhile.
        """
        loop = asyncio.get_running_loop()

        def told() -> None:
            if pinned is not None:
                loop.call_soon_threadsafe(pinned)

        def run() -> list[str]:
            try:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read ledger {self.path}: {describe(exc)}") from None
            try:
                return audit_ledger(db, memory, told)
            finally:
                db.close()

        return await asyncio.to_thread(run)

    async def write_journal(self) -> None:
        """Write journal rows no batch has carried, and prune to the bound when due (the idle path)."""
        journal = self.journal
        if journal is None or self._db is None or not (journal.pending or journal.prune_due()):
            return
        heard, prune = journal.take(), journal.prune_due()
        await self._written([(journal_sql.PRUNE_SQL, [(journal.max_rows,)])] if prune else [], heard,
                            "journal write failed")
        if prune:
            journal.pruned()

    async def read_journal(self, read: Callable[[sqlite3.Connection], T]) -> T:
        """Write the journal's pending rows, then ``read`` the file, in one thread hop (the HTTP door's journal)."""
        heard = self.journal.take() if self.journal is not None else []
        if heard:  # on disk first, so the read sees every exchange finished before it
            await self._written([], heard, "journal write failed")
        try:
            return await self._in_thread(read)
        except sqlite3.Error as exc:
            raise StoreError(f"journal read failed: {describe(exc)}") from exc

    async def close(self, discard: bool = False) -> None:
        """Close the ledger; ``discard`` also removes it when ``open`` created it (a start that failed before
        serving, a port being taken, leaves no new empty ledger and lock file behind)."""
        if self._db is not None:
            with contextlib.suppress(StoreError):  # diagnostics; closing the ledger matters more
                await self.write_journal()
            await self.writer.stop()
            await self._db.close()
            self._db = None
        if self.archive is not None:
            self.archive.close()
            self.archive = None
        if discard and self._created and self._lock.fd is not None:
            for path in (self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm", "-journal"))):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            self._lock.remove()
        self._lock.release()
