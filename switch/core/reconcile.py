"""3201: the institution's totals of a period against the switch's (对总账).

The switch counts every settlement of the institution still in force (not cancelled or reversed)
whose ``setl_time`` falls on the dates asked, China time, of the insurance type asked (all when
none) and of the clearing type (``41`` pharmacy 2102, ``11`` outpatient 2207). Personal-account
money is all of it: ``acct_pay`` counts the patient's own account and the family's pooled part
(``acct_mulaid_pay``) together, as the platform clears them to the same account fund. Leaving the
pooled part out of the night's ``acct_pay`` is the bug this answer names.
"""

from __future__ import annotations

from switch.core.codes import Code
from switch.core.model import Decision, State, refuse
from switch.core.money import format_fen
from switch.core.platform import CLR_TYPE
from switch.wire.inputs_visit import Reconcile

__all__ = ["FIGURES", "reconcile", "totals"]

FIGURES = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")


def totals(state: State, cmd: Reconcile, fixmedins_code: str) -> dict[str, int]:
    """The switch's figures: fen for the amounts, a count for fixmedins_setl_cnt."""
    found = {name: 0 for name in FIGURES}
    # Running sums per institution, infno, insutype and day, kept as settlements are put and undone:
    # a night's reconciliation does not walk every settlement of the ledger's life.
    for (code, infno, insutype, day), t in state.settlements.days.items():
        if (code == fixmedins_code and CLR_TYPE.get(infno) == cmd.clr_type
                and (cmd.insutype is None or insutype == cmd.insutype)
                and cmd.stmt_begndate <= day <= cmd.stmt_enddate):
            found["medfee_sumamt"] += t.medfee
            found["fund_pay_sumamt"] += t.fund
            found["acct_pay"] += t.acct
            found["fixmedins_setl_cnt"] += t.count
    return found


def reconcile(state: State, cmd: Reconcile, fixmedins_code: str) -> Decision:
    """``stmt_rslt`` "0" when every figure agrees, else "1" with each differing figure and both values."""
    if cmd.stmt_begndate > cmd.stmt_enddate:
        return refuse(Code.INVALID_REQUEST, f"对账结束日期 {cmd.stmt_enddate} 早于开始日期 {cmd.stmt_begndate}",
                      {"errors": [{"loc": ["input", "data", "stmt_enddate"],
                                   "msg": "stmt_enddate is before stmt_begndate"}]})
    ours = totals(state, cmd, fixmedins_code)
    theirs = {"medfee_sumamt": cmd.medfee_sumamt, "fund_pay_sumamt": cmd.fund_pay_sumamt,
              "acct_pay": cmd.acct_pay, "fixmedins_setl_cnt": cmd.fixmedins_setl_cnt}
    differ = []
    for name in FIGURES:
        if ours[name] != theirs[name]:
            show = str if name == "fixmedins_setl_cnt" else format_fen
            differ.append(f"{name}: switch {show(ours[name])}, institution {show(theirs[name])}")
    output = {"stmtinfo": {"setl_optins": cmd.setl_optins, "stmt_rslt": "1" if differ else "0",
                           "stmt_rslt_dscr": "; ".join(differ) if differ else "balanced: every figure agrees"}}
    return Decision(Code.OK, output, "对账不平" if differ else "对账平衡")

