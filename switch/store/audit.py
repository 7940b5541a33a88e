"""The ledger's audit on disk: every balance recomputed from the double-entry rows, and the books checked.

It reads the file in one read transaction (a consistent snapshot while the writer goes on committing) and
lets SQLite do the walking: each side of the ledger summed per account in one scan, and only the settlements
that disagree with their ledger rows come back to Python. A million settlements take a few seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

__all__ = ["audit_ledger"]

# A settlement whose parts do not add up, or whose '@paid' rows do not come to what its status says
# (acct + mulaid while settled, nothing once reversed): the rows found by the ledger_ref index.
_BAD_SETTLEMENTS = """
SELECT setl_id, status, fund + acct + mulaid + cash = medfee, paid, expected FROM (
    SELECT s.setl_id, s.status, s.medfee, s.fund, s.acct, s.mulaid, s.cash,
           coalesce((SELECT sum(CASE WHEN l.credit = '@paid' THEN l.fen ELSE -l.fen END) FROM ledger l
                     WHERE l.ref = s.setl_id AND '@paid' IN (l.credit, l.debit)), 0) AS paid,
           CASE WHEN s.status = 'settled' THEN s.acct + s.mulaid ELSE 0 END AS expected
    FROM settlements s)
WHERE fund + acct + mulaid + cash != medfee OR paid != expected"""


def audit_ledger(db: sqlite3.Connection, memory: Mapping[str, int] | None = None,
                 pinned: Callable[[], None] | None = None) -> list[str]:
    """Recompute every balance from the ledger and check the books (conservation, no overdraft, settlements);
    with ``memory`` (psn_no -> balance), where the switch's memory disagrees with the same snapshot.

    ``pinned`` is called once the snapshot is fixed: from then on, commits may go on without being seen.
    """
    db.execute("BEGIN")  # one snapshot: sums and balances from the same commit
    try:
        db.execute("SELECT 1 FROM people LIMIT 1").fetchall()  # a read transaction's snapshot starts at its first read
        if pinned is not None:
            pinned()
        violations, disk = _audit(db)
        if memory is not None:
            violations += [f"{psn_no}: memory says {balc} fen, disk says {disk.get(psn_no)}"
                           for psn_no, balc in memory.items() if disk.get(psn_no) != balc]
        return violations
    finally:
        db.execute("COMMIT")


def _audit(db: sqlite3.Connection) -> tuple[list[str], dict[str, int]]:
    """The violations, and every person's balance as the file holds it (read once, for both)."""
    violations: list[str] = []
    balances: dict[str, int] = {}
    sums: dict[str, int] = {}
    for account, fen in db.execute("SELECT credit, sum(fen) FROM ledger GROUP BY credit"):
        sums[account] = fen
    for account, fen in db.execute("SELECT debit, sum(fen) FROM ledger GROUP BY debit"):
        sums[account] = sums.get(account, 0) - fen
    total = 0
    for psn_no, balc in db.execute("SELECT psn_no, balc FROM people"):
        balances[psn_no] = balc
        total += balc
        if balc < 0:
            violations.append(f"negative balance: {psn_no} has {balc} fen")
        if sums.get(psn_no, 0) != balc:
            violations.append(f"{psn_no}: balance {balc} fen but the ledger gives {sums.get(psn_no, 0)}")
    for account, balc in db.execute("SELECT account, balc FROM externals"):
        total += balc
        if sums.get(account, 0) != balc:
            violations.append(f"{account}: total {balc} fen but the ledger gives {sums.get(account, 0)}")
    if total != 0:
        violations.append(f"money not conserved: accounts and externals sum to {total} fen, not 0")
    for setl_id, status, adds_up, paid, expected in db.execute(_BAD_SETTLEMENTS):
        if not adds_up:
            violations.append(f"{setl_id}: parts do not add up to medfee_sumamt")
        if paid != expected:
            violations.append(f"{setl_id} ({status}): ledger paid {paid} fen, expected {expected}")
    for relative, used in db.execute("SELECT relative, used FROM bindings WHERE used < 0"):
        violations.append(f"binding of {relative}: negative cap usage {used}")
    return violations, balances
