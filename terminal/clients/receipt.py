"""What a person reads at the till: receipts, pooling prompts, refusals and balance tables, with rich."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from terminal.clients.pace import parse_switch_time

__all__ = ["REGIONS", "balances_table", "card_line", "decline_panel", "failure_panel", "receipt_panel",
           "receipt_table"]

REGIONS = {"370300": "淄博 Zibo", "370500": "东营 Dongying", "370000": "山东 Shandong",
           "430100": "长沙 Changsha"}
INSUTYPES = {"310": "职工 employee", "390": "居民 resident"}


def _when(text: str | None) -> str:
    return "" if not text else f"{parse_switch_time(text):%Y-%m-%d %H:%M:%S}"


def card_line(card_answer: dict[str, Any]) -> Text:
    """The 1101 answer in one line: who, insurance, own balance, the holder they are bound to."""
    out = card_answer.get("output") or {}
    base, insu = out.get("baseinfo") or {}, (out.get("insuinfo") or [{}])[0]
    line = Text.assemble(("card ", "dim"), (f"{base.get('psn_name')} ({base.get('psn_no')})", "bold"),
                         f" · {INSUTYPES.get(insu.get('insutype', ''), insu.get('insutype'))}"
                         f" · {REGIONS.get(insu.get('insuplc_admdvs', ''), insu.get('insuplc_admdvs'))}")
    if "balc" in insu:
        line.append(f" · own account {insu['balc']}")
    if insu.get("psn_insu_stas") == "suspended":
        line.append(" · SUSPENDED", "red")
    if mulaid := out.get("mulaid"):
        line.append(f" · bound to {mulaid['holder_name']} ({mulaid['holder_psn_no']}, {mulaid['rltn']})",
                    "cyan")
    return line


def receipt_table(setlinfo: dict[str, Any], holder_name: str | None = None, compact: bool = False) -> Table:
    """Who paid what: the fund, the patient's own account, the family holder, cash; the balance after."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(justify="right", style="bold", no_wrap=True)
    holder = setlinfo.get("mulaid_psn_no")
    who = " ".join(filter(None, [holder_name, f"({holder})" if holder else None])) if holder else ""
    if not compact:
        table.add_row("patient 患者", f"{setlinfo.get('psn_name')} ({setlinfo.get('psn_no')})")
    table.add_row("total 总费用", setlinfo["medfee_sumamt"])
    table.add_row("fund 统筹" if compact else "fund 统筹基金", setlinfo["fund_pay_sumamt"])
    table.add_row("own 个人账户" if compact else "own account 个人账户", setlinfo["acct_pay"])
    table.add_row(f"family 共济 {holder or ''}" if compact else f"family 家庭共济 {who}".rstrip(),
                  Text(setlinfo["acct_mulaid_pay"], style="bold cyan" if holder else "bold"))
    table.add_row("cash 现金", setlinfo["psn_cash_pay"])
    table.add_row("balance 余额" if compact else "balance after 余额", setlinfo["balc"])
    return table


def receipt_panel(setlinfo: dict[str, Any], title: str, holder_name: str | None = None) -> Panel:
    """The printed receipt: ``receipt_table`` under the settlement id and time, in a box."""
    refund = str(setlinfo.get("medfee_sumamt", "")).startswith("-")
    head = f"{setlinfo.get('setl_id', 'pre-settlement')} · {_when(setlinfo.get('setl_time'))}"
    return Panel(Group(Text(head, style="dim"), receipt_table(setlinfo, holder_name)),
                 title=("REFUND 退费 · " if refund else "") + title,
                 border_style="yellow" if refund else "green", box=box.ROUNDED, expand=False)


def decline_panel(answer: dict[str, Any], title: str, left: str | None = None) -> Panel:
    """A POOLING_AVAILABLE decline: the prompt, the shortfall, the holder, and when the window ends."""
    out = answer.get("output") or {}
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="dim")
    table.add_column(justify="right", style="bold")
    table.add_row("code", Text(str(answer.get("code")), style="bold yellow"))
    table.add_row("self pay 个人自付", out.get("self_pay", ""))
    table.add_row("own account 个人账户余额", out.get("acct_balc", ""))
    table.add_row("shortfall 差额", out.get("shortfall", ""))
    table.add_row("holder 共济人", str(out.get("mulaid_psn_no", "")))
    ends = _when(out.get("window_expires_at"))
    table.add_row("window ends 窗口截止", ends + (f"  ({left} left)" if left else ""))
    return Panel(Group(Text(str(answer.get("err_msg")), style="bold yellow"), table), title=title,
                 border_style="yellow", box=box.ROUNDED, expand=False)


def failure_panel(answer: dict[str, Any], title: str) -> Panel:
    """Any other refusal: the code, the switch's message and, for INVALID_REQUEST, each field at fault."""
    parts: list[RenderableType] = [Text.assemble((str(answer.get("code")), "bold red"), "  ",
                                                 str(answer.get("err_msg")))]
    for error in (answer.get("output") or {}).get("errors", []):
        parts.append(Text(f"  {'.'.join(map(str, error.get('loc', [])))}: {error.get('msg')}", style="red"))
    return Panel(Group(*parts), title=title, border_style="red", box=box.ROUNDED, expand=False)


def balances_table(people: list[dict[str, Any]], before: dict[str, str] | None = None,
                   title: str = "balances 个人账户余额", compact: bool = False) -> Table:
    """Everyone's personal account, with the balance before beside it when ``before`` is given."""
    table = Table(title=title, box=box.SIMPLE_HEAD if compact else box.SIMPLE_HEAVY, padding=(0, 1))
    for name in ("psn_no", "name", "region", "insurance"):
        table.add_column(name, no_wrap=True)
    if before is not None:
        table.add_column("before", justify="right")
    table.add_column("balance", justify="right", style="bold")
    for p in people:
        region = REGIONS.get(p.get("insuplc_admdvs", ""), p.get("insuplc_admdvs", ""))
        insurance = INSUTYPES.get(p["insutype"], p["insutype"])
        if compact:
            region, insurance = region.split(" ")[0], insurance.split(" ")[0]
        if p.get("status", "active") != "active":
            insurance += " (suspended)"
        has_account = p["insutype"] == "310"
        row: list[str | Text] = [p["psn_no"], p.get("psn_name", ""), region, insurance]
        if before is not None:
            old = before.get(p["psn_no"], "")
            row.append(old if has_account else "—")
            changed = has_account and old != p["balc"]
            row.append(Text(p["balc"] if has_account else "—", style="bold yellow" if changed else "bold"))
        else:
            row.append(p["balc"] if has_account else "—")
        table.add_row(*row)
    return table
