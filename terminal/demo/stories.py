"""The demo's families, tills and checkout stories, each with the exact amounts it must produce.

A story drives real terminals against the real switch and *checks* what came back, so the demo
is also a test: ``gongji-terminal demo --fast`` fails when any amount, code or balance is off.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from switch.web import demo_data
from terminal.clients.admin import Admin
from terminal.clients.pos import Card, Checkout, Terminal
from terminal.clients.receipt import card_line
from terminal.demo.view import View

__all__ = ["BINDINGS", "EXPECTED_BALANCES", "PEOPLE", "STORIES", "TILLS", "Stage", "Story"]


# The families and tills are data the studio page reads too (switch/web/demo.json). 东营 (retry window):
# 王建国 is the holder; his son (resident, no account), wife (short of money) and mother-in-law (Dongying
# allows the spouse's parents). 淄博 (automatic): 张伟 and his father.
_DEMO: dict[str, Any] = json.loads(demo_data())
PEOPLE: list[dict[str, Any]] = _DEMO["people"]
BINDINGS: list[dict[str, Any]] = _DEMO["bindings"]
# terminal id -> (institution code, kind, name shown on the screen)
TILLS: dict[str, tuple[str, str, str]] = {
    t["terminal_id"]: (t["fixmedins_code"], t["kind"], t["name"]) for t in _DEMO["tills"]}
EXPECTED_BALANCES = {"D001": "433.50", "D003": "0.00", "Z001": "154.50"}


def card(psn_no: str) -> Card:
    return Card("01", f"QR-{psn_no}", psn_no)


@dataclass
class Stage:
    """What a story plays with: the tills, the operator, the screen; it keeps the failed expectations."""

    admin: Admin
    tills: dict[str, Terminal]
    view: View
    failures: list[str] = field(default_factory=list)
    settled: dict[str, dict[str, Any]] = field(default_factory=dict)  # story key -> setlinfo

    def expect(self, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            self.failures.append(f"{what}: expected {expected!r}, got {actual!r}")
            self.view.say(f"[bold red]✗ {what}: expected {expected!r}, got {actual!r}[/bold red]")

    def expect_paid(self, checkout: Checkout, **amounts: str) -> dict[str, Any]:
        info = checkout.setlinfo or {}
        self.expect("checkout status", checkout.status, "settled")
        for key, value in amounts.items():
            self.expect(key, info.get(key), value)
        return info

    async def refresh(self) -> None:
        self.view.balances((await self.admin.state())["people"])

    def show_checkout(self, till: Terminal, checkout: Checkout) -> None:
        swipe = checkout.last
        holder = ((swipe.card or {}).get("output") or {}).get("mulaid") or {}
        if swipe.card and swipe.card.get("code") == "OK":
            self.view.say(card_line(swipe.card))
        if checkout.setlinfo is not None:
            self.view.receipt(till, checkout.setlinfo, holder.get("holder_name"))
        elif swipe.prompt is not None and swipe.answer is not None:
            self.view.declined(till, swipe.answer)
        else:
            self.view.refused(till, swipe.answer or swipe.preview or swipe.card or {})


@dataclass(frozen=True)
class Story:
    title: str
    play: Callable[[Stage], Awaitable[None]]


async def own_account_first(stage: Stage) -> None:
    till = stage.tills["YD-POS-01"]
    stage.view.say("王建国 (holder, own account 500.00) buys cold medicine for 36.50 at the pharmacy.")
    result = await till.checkout(card("D001"), "36.50")
    stage.show_checkout(till, result)
    stage.expect_paid(result, acct_pay="36.50", acct_mulaid_pay="0.00", psn_cash_pay="0.00", balc="463.50")
    stage.view.say("His own account pays: nothing to pool.")


async def prompt_then_swipe_again(stage: Stage) -> None:
    till = stage.tills["YD-POS-01"]
    stage.view.say("His son 王小明 (resident insurance, no personal account) buys medicine for 80.00.")
    stage.view.say("Dongying's rule: the first swipe is declined with the prompt; a 5-minute window opens.")
    result = await till.checkout(card("D002"), "80.00", retry_after=[timedelta(seconds=90)])
    first = result.swipes[0]
    stage.expect("first swipe", first.code, "POOLING_AVAILABLE")
    stage.expect("shortfall", first.prompt.shortfall if first.prompt else None, "80.00")
    stage.view.say("The cashier swipes again 1m30s later, inside the window: the holder's account pays.")
    stage.show_checkout(till, result)
    stage.settled["son"] = stage.expect_paid(result, acct_pay="0.00", acct_mulaid_pay="80.00",
                                             psn_cash_pay="0.00", mulaid_psn_no="D001")


async def window_runs_out(stage: Stage) -> None:
    till = stage.tills["MZ-POS-01"]
    stage.view.say("His wife 李秀英 (own account 30.00) sees a doctor: 120.00, the fund pays half.")
    stage.view.say("Declined with the prompt; she leaves and comes back after 6 minutes: the window is gone.")
    result = await till.checkout(card("D003"), "120.00",
                                 retry_after=[timedelta(minutes=6), timedelta(seconds=20)])
    stage.expect("swipes", [s.code for s in result.swipes], ["POOLING_AVAILABLE", "POOLING_AVAILABLE", "OK"])
    first, second = result.prompts[:2] if len(result.prompts) >= 2 else (None, None)
    stage.expect("a new window after expiry",
                 bool(first and second and second.expires_at > first.expires_at), True)
    stage.view.say("The late swipe got a new prompt and a new window; swiping again 20s later pools.")
    stage.show_checkout(till, result)
    visit = result.last.visit
    stage.expect_paid(result, fund_pay_sumamt="60.00", acct_pay="30.00", acct_mulaid_pay="30.00",
                      psn_cash_pay="0.00", balc="0.00", mulaid_psn_no="D001",
                      mdtrt_id=visit.mdtrt_id if visit else "a registered visit")
    stage.view.say(f"The till registered visit {visit.mdtrt_id if visit else '?'} (2201, 2203), uploaded its "
                   "fees as one batch (2204) and settled that batch once, on the third swipe.")
    await reconcile_the_day(stage, till)


async def reconcile_the_day(stage: Stage, till: Terminal) -> None:
    """3201 at night: the clinic's own and pooled account money must both be in acct_pay."""
    today = str((await stage.admin.clock())["now"])[:10]  # the switch clock's date, China time
    day = {"clr_type": "11", "stmt_begndate": today, "stmt_enddate": today, "medfee_sumamt": "120.00",
           "fund_pay_sumamt": "60.00", "fixmedins_setl_cnt": 1}
    wrong = await till.send("3201", {"data": {**day, "acct_pay": "30.00"}})
    stage.expect("the pooled part left out", (wrong.get("output") or {}).get("stmtinfo", {}).get("stmt_rslt_dscr"),
                 "acct_pay: switch 60.00, institution 30.00")
    right = await till.send("3201", {"data": {**day, "acct_pay": "60.00"}})
    stage.expect("reconciled", (right.get("output") or {}).get("stmtinfo", {}).get("stmt_rslt"), "0")
    stage.view.say("At night 3201 balances only with the pooled 30.00 counted in acct_pay (60.00).")


async def zibo_automatic(stage: Stage) -> None:
    till = stage.tills["ZB-POS-01"]
    stage.view.say("In Zibo, 张德福 (resident, bound to his son 张伟) buys medicine for 45.50.")
    result = await till.checkout(card("Z002"), "45.50")
    stage.show_checkout(till, result)
    stage.expect("swipes needed", len(result.swipes), 1)
    stage.expect_paid(result, acct_mulaid_pay="45.50", psn_cash_pay="0.00", mulaid_psn_no="Z001")
    stage.view.say("Zibo pools automatically: his son's account pays in the same settlement, no prompt.")


async def cancel_refunds(stage: Stage) -> None:
    till = stage.tills["YD-POS-01"]
    son = stage.settled.get("son") or {}
    stage.view.say(f"王小明 returns the medicine: the pharmacy cancels {son.get('setl_id')} (2103).")
    answer = await till.cancel(str(son.get("setl_id")), "D002")
    stage.expect("cancel", answer.get("code"), "OK")
    info = (answer.get("output") or {}).get("setlinfo") or {}
    if info:
        stage.view.receipt(till, info, "王建国")
    stage.expect("refunded to the holder", info.get("acct_mulaid_pay"), "-80.00")
    stage.view.say("Every source is refunded in full: 80.00 goes back to 王建国's account.")


STORIES = [
    Story("own account first", own_account_first),
    Story("Dongying: prompt, swipe again inside the window", prompt_then_swipe_again),
    Story("clinic: the window runs out, a new prompt", window_runs_out),
    Story("Zibo: automatic pooling", zibo_automatic),
    Story("cancel: the refund restores the balances", cancel_refunds),
]
