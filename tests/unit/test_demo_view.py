"""The demo's live view at 80×24 and wider: what a person can read on the screen, rendered by rich."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console

from switch.service.clock import CST
from terminal.clients.pos import Prompt, Step, Terminal
from terminal.demo.stories import PEOPLE, TILLS
from terminal.demo.view import LiveView

NOW = datetime(2026, 11, 25, 9, 31, 0, tzinfo=CST)
PROMPT = "您存在有效的家庭共济绑定关系,5分钟内再次刷卡,可以走家庭共济消费"
HEADER = "gongji demo · broker mqtt://127.0.0.1:41234 · topics gongji/v1/ · switch clock 09:31:00 (×60)"
RECEIPT = {"setl_id": "SETL0000000003", "psn_name": "李秀英", "medfee_sumamt": "120.00", "fund_pay_sumamt": "60.00",
           "acct_pay": "30.00", "acct_mulaid_pay": "30.00", "psn_cash_pay": "0.00", "balc": "0.00",
           "mulaid_psn_no": "D001"}


def _view(console: Console, tmp_path: Path) -> LiveView:
    """Story 2 under way: the pharmacy counts down its window, the clinic shows a receipt, balances moved."""
    view = LiveView(console, 0, lambda: HEADER, lambda: NOW)
    view.terminals = [Terminal("mqtt://127.0.0.1:1", tid, code, kind=kind, name=name,  # type: ignore[arg-type]
                               state_dir=tmp_path) for tid, (code, kind, name) in TILLS.items()]
    view.start_balances = {p["psn_no"]: p.get("balc", "0.00") for p in PEOPLE}
    view.balances([dict(p, balc={"D001": "463.50"}.get(p["psn_no"], p.get("balc", "0.00"))) for p in PEOPLE])
    view.story(2, "Dongying: prompt, swipe again inside the window")
    view.say("His son 王小明 (resident insurance, no personal account) buys medicine for 80.00.")
    view.say("Dongying's rule: the first swipe is declined with the prompt; a 5-minute window opens.")
    clinic, pharmacy = view.terminals[1], view.terminals[0]
    view.receipt(clinic, RECEIPT, "王建国")
    pharmacy.time.observe(NOW)
    pharmacy.prompt = Prompt(PROMPT, "D002", "D001", "80.00", NOW + timedelta(seconds=240), 300.0,
                             NOW - timedelta(seconds=60))
    pharmacy.waiting_until = NOW + timedelta(seconds=90)
    view.on_step(Step("YD-POS-01", "answer", "2102 ← POOLING_AVAILABLE " + PROMPT))
    view.on_event({"at": "2026-11-25T09:30:00.000+08:00", "type": "window.opened",
                   "data": {"psn_no": "D002", "expires_at": "2026-11-25T09:35:00.000+08:00"}})
    return view


def _screen(width: int, height: int, tmp_path: Path, receipt_in_play: bool = False) -> list[str]:
    console = Console(width=width, height=height, record=True, force_terminal=True, color_system=None)
    view = _view(console, tmp_path)
    if receipt_in_play:
        view.terminals[0].prompt = None
        view.receipt(view.terminals[1], RECEIPT, "王建国")
    console.print(view)
    return console.export_text().rstrip("\n").splitlines()


def test_at_80x24_the_prompt_and_its_countdown_fit(tmp_path: Path) -> None:
    """80×24: every line fits, the story, the whole prompt, the countdown, the swipe again and balances show."""
    lines = _screen(80, 24, tmp_path)
    text = "\n".join(lines)
    assert len(lines) <= 24 and max(cell_len(line) for line in lines) <= 80
    assert "story 2 · Dongying: prompt, swipe again inside the window" in text
    assert "declined with the prompt; a 5-minute window opens." in " ".join(text.split())
    assert PROMPT in text
    assert "shortfall 80.00 → holder D001 · window ends 09:35:00" in text
    assert "4:00 left" in text and "cashier swipes again in 1:30" in text
    assert "D001 王建国 500.00→463.50" in text
    assert "MZ-POS-01 东营区人民医院 门诊  SETL0000000003 · 李秀英 · 120.00" in text
    assert "window.opened  D002 09:35:00" in text


def test_at_80x24_a_receipt_shows_every_amount(tmp_path: Path) -> None:
    """80×24 with the clinic in play: its receipt's six amounts and the holder are on screen, nothing cut."""
    lines = _screen(80, 24, tmp_path, receipt_in_play=True)
    text = "\n".join(lines)
    assert len(lines) <= 24 and max(cell_len(line) for line in lines) <= 80
    assert "SETL0000000003 · 李秀英" in text
    for label, amount in (("total 总费用", "120.00"), ("fund 统筹", "60.00"), ("own 个人账户", "30.00"),
                          ("family 共济 D001", "30.00"), ("cash 现金", "0.00"), ("balance 余额", "0.00")):
        row = next(line for line in lines if label in line)
        assert row.split(label)[1].split()[0] == amount, row
    assert "…" not in text.replace(HEADER, "")


def test_wide_terminal_puts_the_tills_side_by_side(tmp_path: Path) -> None:
    """160×50: the three tills' panels stand in one row, the prompt's window end on its own line."""
    lines = _screen(160, 50, tmp_path)
    assert len(lines) <= 50
    names = ("东营 仁和大药房", "东营区人民医院 门诊", "淄博 康宁药店")
    assert any(all(name in line for name in names) for line in lines)
    assert any(line.strip(" │").startswith("window ends 09:35:00") for line in lines)


def test_too_small_a_terminal_says_what_it_needs(tmp_path: Path) -> None:
    """40×12: one message with the size needed and --no-live, instead of a garbled view."""
    text = " ".join(" ".join(_screen(40, 12, tmp_path)).split())
    assert text == ("The live demo needs a terminal of at least 60×18 (this one is 40×12): make it larger, "
                    "or run with --no-live for plain lines.")
