"""The ledger's audit on disk: every balance recomputed from the double-entry rows, and the books checked."""

from __future__ import annotations

import sqlite3

__all__ = ["audit_ledger"]


def audit_ledger(db: sqlite3.Connection) -> list[str]:
    """Recompute every balance from the ledger and check the books (conservation, no overdraft, settlements)."""
    violations: list[str] = []
    sums: dict[str, int] = {}
    for account, net in db.execute(
            "SELECT account, sum(fen) FROM (SELECT credit AS account, fen FROM ledger "
            "UNION ALL SELECT debit, -fen FROM ledger) GROUP BY account"):
        sums[account] = net
    total = 0
    for psn_no, balc in db.execute("SELECT psn_no, balc FROM people"):
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
    for setl_id, medfee, fund, acct, mulaid, cash, status, paid in db.execute(
            "SELECT s.setl_id, s.medfee, s.fund, s.acct, s.mulaid, s.cash, s.status, "
            "coalesce((SELECT sum(CASE WHEN l.credit = '@paid' THEN l.fen ELSE -l.fen END) FROM ledger l "
            "WHERE l.ref = s.setl_id AND '@paid' IN (l.credit, l.debit)), 0) FROM settlements s"):
        if fund + acct + mulaid + cash != medfee:
            violations.append(f"{setl_id}: parts do not add up to medfee_sumamt")
        expected = acct + mulaid if status == "settled" else 0
        if paid != expected:
            violations.append(f"{setl_id} ({status}): ledger paid {paid} fen, expected {expected}")
    for relative, used in db.execute("SELECT relative, used FROM bindings WHERE used < 0"):
        violations.append(f"binding of {relative}: negative cap usage {used}")
    return violations
