"""The audit trail for people: one log line per answered request, cheap enough for thousands a second."""

from __future__ import annotations

import logging
import time

from switch.core.codes import Code
from switch.core.model import Decision
from switch.loglines import TurnHandler

__all__ = ["log_answer", "write_through"]

log = logging.getLogger("gongji.switch")
_through: TurnHandler | None = None


def write_through(handler: TurnHandler | None) -> None:
    """Hand the lines straight to ``handler`` while it alone writes them, as logging would (the CLI's setup)."""
    global _through
    _through = handler


def log_answer(channel: str, sender: str, infno: str | None, msgid: str | None, code: Code,
               decision: Decision | None, started: float) -> None:
    # Nothing is formatted unless INFO is on, and then lazily, once.
    if not log.isEnabledFor(logging.INFO):
        return
    elapsed = (time.perf_counter() - started) * 1000
    info = decision.output.get("setlinfo") if decision is not None and decision.output else None
    through = _through
    if through is None or not through.direct(log):
        if info is None:
            log.info("%s/%s %s %s %s %.1f ms", channel, sender, infno, msgid, code.value, elapsed)
            return
        log.info("%s/%s %s %s %s fee=%s fund=%s acct=%s mulaid=%s cash=%s %.1f ms", channel, sender, infno, msgid,
                 code.value, info["medfee_sumamt"], info["fund_pay_sumamt"], info["acct_pay"],
                 info["acct_mulaid_pay"], info["psn_cash_pay"], elapsed)
        return
    if info is None:
        through.line("INFO", log.name, f"{channel}/{sender} {infno} {msgid} {code.value} {elapsed:.1f} ms")
        return
    through.line("INFO", log.name, f"{channel}/{sender} {infno} {msgid} {code.value} fee={info['medfee_sumamt']} "
                 f"fund={info['fund_pay_sumamt']} acct={info['acct_pay']} mulaid={info['acct_mulaid_pay']} "
                 f"cash={info['psn_cash_pay']} {elapsed:.1f} ms")
