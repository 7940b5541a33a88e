-- The ledger schema of version 1 (before bindings had an identity), to test migrations.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    psn_no TEXT PRIMARY KEY, psn_name TEXT NOT NULL, insutype TEXT NOT NULL, admdvs TEXT NOT NULL,
    status TEXT NOT NULL, certs TEXT NOT NULL, balc INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS externals (account TEXT PRIMARY KEY, balc INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, debit TEXT NOT NULL, credit TEXT NOT NULL,
    fen INTEGER NOT NULL CHECK (fen > 0), kind TEXT NOT NULL, ref TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_ref ON ledger (ref);
CREATE TABLE IF NOT EXISTS bindings (
    relative TEXT PRIMARY KEY, holder TEXT NOT NULL, rltn TEXT NOT NULL, cap INTEGER,
    used INTEGER NOT NULL, created_at TEXT);
CREATE INDEX IF NOT EXISTS bindings_holder ON bindings (holder);
CREATE TABLE IF NOT EXISTS windows (
    psn_no TEXT NOT NULL, fixmedins_code TEXT NOT NULL, holder TEXT NOT NULL,
    opened_at TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (psn_no, fixmedins_code));
CREATE TABLE IF NOT EXISTS settlements (
    setl_id TEXT PRIMARY KEY, infno TEXT NOT NULL, terminal_id TEXT NOT NULL, msgid TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, psn_no TEXT NOT NULL, psn_name TEXT NOT NULL, insutype TEXT NOT NULL,
    setl_time TEXT NOT NULL, medfee INTEGER NOT NULL, fund INTEGER NOT NULL, acct INTEGER NOT NULL,
    mulaid INTEGER NOT NULL, cash INTEGER NOT NULL, balc INTEGER NOT NULL, holder TEXT,
    status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    rec_id INTEGER PRIMARY KEY, holder TEXT NOT NULL, setl_id TEXT NOT NULL, psn_no TEXT NOT NULL,
    amount INTEGER NOT NULL, at TEXT NOT NULL, fixmedins_code TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (
    terminal_id TEXT NOT NULL, omsgid TEXT NOT NULL, oinfno TEXT NOT NULL, PRIMARY KEY (terminal_id, omsgid));
CREATE TABLE IF NOT EXISTS premiums (
    relative TEXT NOT NULL, year INTEGER NOT NULL, holder TEXT NOT NULL, amount INTEGER NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (relative, year));
CREATE TABLE IF NOT EXISTS policies (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    channel TEXT NOT NULL, sender TEXT NOT NULL, msgid TEXT NOT NULL, infno TEXT NOT NULL,
    fingerprint TEXT NOT NULL, code TEXT NOT NULL, setl_id TEXT, response BLOB NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (channel, sender, msgid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY, received REAL NOT NULL, switch_time TEXT, topic TEXT NOT NULL, channel TEXT,
    sender TEXT, infno TEXT, msgid TEXT, code TEXT, answers INTEGER NOT NULL, took_ms REAL, hint TEXT,
    request BLOB NOT NULL, request_size INTEGER NOT NULL, response BLOB, response_size INTEGER);
