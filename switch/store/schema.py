"""The ledger file's tables, its schema version, and the migrations from older versions."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from switch.journal import table as journal_sql
from switch.store.base import StoreOpenError
from switch.store.clinic_sql import CLINIC_SCHEMA, CLINIC_TABLES

__all__ = ["SCHEMA_VERSION", "TABLES", "check_file", "create_or_migrate", "describe", "read_version"]

log = logging.getLogger("gongji.store")

# 1: the first. 2: bindings.bid and settlements.binding_id (a refund returns cap only to the
# binding it was spent under), invites (bindings waiting for the relative's consent). 3: people.gend
# and brdy (loaded by admin.load), settlements.med_type and mdtrt_cert_type (cancels answer with them).
# 4: the clinic's visits, charge batches and sign-ins; settlements.mdtrt_id (the visit a 2207 settled).
# 5: replies became a rowid table with a unique index on its key (it was WITHOUT ROWID, its rows about
# 900 bytes of answer each: a page per row, a random page written per request; now rows are appended).
SCHEMA_VERSION = 5

# settlements_msgid and records_holder (added within version 5, created when a switch opens the file) serve
# the reads of settlements and spending rows that have left memory (switch/store/archive.py).
# A remembered answer (its key has the unique index replies_key). Answers are appended in rowid order, so
# a commit writes the table's last page or two, and only the small index entries land in random pages.
_REPLIES_COLUMNS = """
    channel TEXT NOT NULL, sender TEXT NOT NULL, msgid TEXT NOT NULL, infno TEXT NOT NULL,
    fingerprint TEXT NOT NULL, code TEXT NOT NULL, setl_id TEXT, response BLOB NOT NULL, at TEXT NOT NULL"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    psn_no TEXT PRIMARY KEY, psn_name TEXT NOT NULL, insutype TEXT NOT NULL, admdvs TEXT NOT NULL,
    status TEXT NOT NULL, certs TEXT NOT NULL, balc INTEGER NOT NULL DEFAULT 0, gend TEXT, brdy TEXT);
CREATE TABLE IF NOT EXISTS externals (account TEXT PRIMARY KEY, balc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, debit TEXT NOT NULL, credit TEXT NOT NULL,
    fen INTEGER NOT NULL CHECK (fen > 0), kind TEXT NOT NULL, ref TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_ref ON ledger (ref);
CREATE TABLE IF NOT EXISTS bindings (
    relative TEXT PRIMARY KEY, holder TEXT NOT NULL, rltn TEXT NOT NULL, cap INTEGER,
    used INTEGER NOT NULL, created_at TEXT, bid INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS bindings_holder ON bindings (holder);
CREATE TABLE IF NOT EXISTS windows (
    psn_no TEXT NOT NULL, fixmedins_code TEXT NOT NULL, holder TEXT NOT NULL,
    opened_at TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (psn_no, fixmedins_code));
CREATE TABLE IF NOT EXISTS settlements (
    setl_id TEXT PRIMARY KEY, infno TEXT NOT NULL, terminal_id TEXT NOT NULL, msgid TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, psn_no TEXT NOT NULL, psn_name TEXT NOT NULL, insutype TEXT NOT NULL,
    setl_time TEXT NOT NULL, medfee INTEGER NOT NULL, fund INTEGER NOT NULL, acct INTEGER NOT NULL,
    mulaid INTEGER NOT NULL, cash INTEGER NOT NULL, balc INTEGER NOT NULL, holder TEXT,
    status TEXT NOT NULL, binding_id INTEGER, med_type TEXT, mdtrt_cert_type TEXT, mdtrt_id TEXT);
CREATE INDEX IF NOT EXISTS settlements_msgid ON settlements (terminal_id, msgid);
CREATE TABLE IF NOT EXISTS records (
    rec_id INTEGER PRIMARY KEY, holder TEXT NOT NULL, setl_id TEXT NOT NULL, psn_no TEXT NOT NULL,
    amount INTEGER NOT NULL, at TEXT NOT NULL, fixmedins_code TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_holder ON records (holder, rec_id);
CREATE TABLE IF NOT EXISTS tombstones (
    terminal_id TEXT NOT NULL, omsgid TEXT NOT NULL, oinfno TEXT NOT NULL, PRIMARY KEY (terminal_id, omsgid));
CREATE TABLE IF NOT EXISTS premiums (
    relative TEXT NOT NULL, year INTEGER NOT NULL, holder TEXT NOT NULL, amount INTEGER NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (relative, year));
CREATE TABLE IF NOT EXISTS policies (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replies (""" + _REPLIES_COLUMNS + """);
CREATE UNIQUE INDEX IF NOT EXISTS replies_key ON replies (channel, sender, msgid);
CREATE INDEX IF NOT EXISTS replies_at ON replies (at);
CREATE TABLE IF NOT EXISTS invites (
    relative TEXT NOT NULL, holder TEXT NOT NULL, rltn TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (relative, holder));
""" + CLINIC_SCHEMA

# The tables admin.reset empties (meta and the journal stay).
TABLES = ("people", "externals", "ledger", "bindings", "windows", "settlements", "records", "tombstones",
          "premiums", "policies", "replies", "invites", *CLINIC_TABLES)

# Version 1 -> 2. Each binding gets its rowid as its bid; a settlement's binding is the one its
# patient has now with the same holder, if that binding already existed when it was settled; a
# settlement made under a binding since removed refunds no cap (that binding is gone anyway).
_TO_2 = """
ALTER TABLE bindings ADD COLUMN bid INTEGER NOT NULL DEFAULT 0;
UPDATE bindings SET bid = rowid;
ALTER TABLE settlements ADD COLUMN binding_id INTEGER;
UPDATE settlements SET binding_id = (
    SELECT b.bid FROM bindings b WHERE b.relative = settlements.psn_no AND b.holder = settlements.holder
    AND (b.created_at IS NULL OR b.created_at <= settlements.setl_time))
WHERE holder IS NOT NULL;
"""
# Version 2 -> 3: nullable columns; settlements from before them answer cancels with the defaults.
_TO_3 = """
ALTER TABLE people ADD COLUMN gend TEXT;
ALTER TABLE people ADD COLUMN brdy TEXT;
ALTER TABLE settlements ADD COLUMN med_type TEXT;
ALTER TABLE settlements ADD COLUMN mdtrt_cert_type TEXT;
"""
# Version 3 -> 4: the new tables are created with the rest; settlements from before settled no visit.
_TO_4 = """
ALTER TABLE settlements ADD COLUMN mdtrt_id TEXT;
"""
# Version 4 -> 5: the same rows, oldest first, in the rowid table (the new indexes come with the rest).
_TO_5 = """
DROP INDEX IF EXISTS replies_at;
ALTER TABLE replies RENAME TO replies_v4;
CREATE TABLE replies (""" + _REPLIES_COLUMNS + """);
INSERT INTO replies (channel, sender, msgid, infno, fingerprint, code, setl_id, response, at)
    SELECT channel, sender, msgid, infno, fingerprint, code, setl_id, response, at FROM replies_v4 ORDER BY at;
DROP TABLE replies_v4;
"""
_MIGRATIONS = {1: _TO_2, 2: _TO_3, 3: _TO_4, 4: _TO_5}


def create_or_migrate(db: sqlite3.Connection, version: int | None) -> None:
    """Bring a file at ``version`` (None: new) to SCHEMA_VERSION, in the caller's transaction."""
    if version is not None and version > SCHEMA_VERSION:  # checked before, but the file may have changed since
        raise sqlite3.DatabaseError(f"schema version {version} is newer than this switch's {SCHEMA_VERSION}")
    if version is not None and version < SCHEMA_VERSION:
        # Version 4 -> 5 copies every remembered answer (about 50,000 a second here): say so before it.
        answers = db.execute("SELECT count(*) FROM replies").fetchone()[0] if version <= 4 else 0
        log.info("migrating the ledger from schema version %d to %d%s", version, SCHEMA_VERSION,
                 f" (copying {answers:,} remembered answers)" if answers else "")
        for step in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[step].split(";"):
                if statement.strip():
                    db.execute(statement)
    for statement in (_SCHEMA + journal_sql.JOURNAL_SCHEMA).split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def read_version(db: sqlite3.Connection) -> int | None:
    """The file's schema version; None for a file without gongji's tables yet."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return None if row is None else int(row[0])


def describe(exc: BaseException) -> str:
    """An error as one line, with SQLite's own name for it (SQLITE_FULL...) when it has one."""
    name = getattr(exc, "sqlite_errorname", None)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{text} ({name})" if name else text


def check_file(path: Path) -> None:
    """Refuse, before anything is written, a --db that is not a gongji ledger this switch can use.

    Reading with a plain connection and SELECTs only leaves any file as it was (no WAL switch, no
    journal file for a read): a foreign or newer file is refused untouched.
    """
    if not path.parent.is_dir():
        raise StoreOpenError(f"cannot open ledger {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise StoreOpenError(f"cannot open ledger {path}: it is a directory, not a file")
    if not path.exists():
        return  # a new ledger
    try:
        db = sqlite3.connect(path)  # not mode=ro: that cannot read a WAL ledger whose -shm file is gone
    except sqlite3.Error as exc:
        raise StoreOpenError(f"cannot open ledger {path}: {describe(exc)}") from None
    try:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        version = read_version(db) if "meta" in tables else None
    except (sqlite3.Error, ValueError) as exc:
        kind = "is not a SQLite database" if isinstance(exc, sqlite3.DatabaseError) and \
            getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB" else "cannot be read"
        raise StoreOpenError(f"ledger {path} {kind}: {describe(exc)}") from None
    finally:
        db.close()
    if tables and version is None:
        names = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
        raise StoreOpenError(f"{path} is a SQLite database of another program (tables: {names}); "
                             "it was left untouched: give --db a new file or a gongji ledger")
    if version is not None and version > SCHEMA_VERSION:
        raise StoreOpenError(f"ledger {path} has schema version {version}, newer than this switch's "
                             f"{SCHEMA_VERSION}; it was left untouched: run a newer gongji-switch")
